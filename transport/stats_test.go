package transport

import (
	"testing"
	"time"
)

func TestHistogram(t *testing.T) {
	var h histogram
	for _, d := range []time.Duration{500 * time.Nanosecond, 3 * time.Microsecond, 3 * time.Microsecond, 900 * time.Microsecond, time.Hour} {
		h.observe(d)
	}
	s := h.snapshot()
	if s.Count() != 5 {
		t.Fatalf("count %d", s.Count())
	}
	for q, want := range map[float64]time.Duration{
		0.2: BucketUpper(0), // < 1µs
		0.6: BucketUpper(2), // 3µs is in [2, 4)µs
		0.8: BucketUpper(10),
		1.0: BucketUpper(HistogramBuckets - 1), // an hour lands in the last bucket
	} {
		if got := s.Quantile(q); got != want {
			t.Errorf("Quantile(%v) = %v, want %v", q, got, want)
		}
	}
	if (Histogram{}).Quantile(0.5) != 0 {
		t.Error("empty histogram quantile should be 0")
	}
}
