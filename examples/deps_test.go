package examples

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSingleComponentExamplesImportOnlyTheirComponent checks, with the go
// command's own dependency list, that ring_only and hlc_only import nothing
// from this repository but their one component module (the rest of their
// dependencies: the standard library, and for ring its xxhash).
func TestSingleComponentExamplesImportOnlyTheirComponent(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not on PATH")
	}
	for _, tc := range []struct {
		dir, component string
		thirdParty     bool // whether non-repository, non-standard packages are allowed
	}{
		{"./ring_only", "github.com/gridkv/gridkv/ring", true},
		{"./hlc_only", "github.com/gridkv/gridkv/hlc", false},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", tc.dir).CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps %s: %v\n%s", tc.dir, err, out)
			}
			self := "github.com/gridkv/gridkv/examples/" + strings.TrimPrefix(tc.dir, "./")
			sawComponent := false
			for _, pkg := range strings.Fields(string(out)) {
				switch {
				case pkg == self:
				case pkg == tc.component || strings.HasPrefix(pkg, tc.component+"/"):
					sawComponent = true
				case strings.HasPrefix(pkg, "github.com/gridkv/gridkv/"):
					t.Errorf("%s imports %s; it may only use %s from this repository", tc.dir, pkg, tc.component)
				case !tc.thirdParty:
					t.Errorf("%s depends on %s; %s is standard library only", tc.dir, pkg, tc.component)
				}
			}
			if !sawComponent {
				t.Errorf("%s does not import %s at all:\n%s", tc.dir, tc.component, out)
			}
		})
	}
}
