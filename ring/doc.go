// Package ring will hold GridKV's consistent-hash ring: immutable ring values
// with weighted virtual nodes, N distinct replicas per key spread over zones,
// and the range arithmetic that rebalancing and repair need.
package ring
