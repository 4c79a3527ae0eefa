package runner

import (
	"fmt"
	"testing"

	"github.com/headroom-dev/headroom/policy"
)

func TestParseShard(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Shard
		ok   bool
	}{
		{"0/1", Shard{0, 1}, true}, {"3/4", Shard{3, 4}, true},
		{"4/4", Shard{}, false}, {"-1/4", Shard{}, false}, {"1/0", Shard{}, false}, {"1", Shard{}, false}, {"a/b", Shard{}, false},
	} {
		got, err := ParseShard(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseShard(%q) = %v, %v", c.in, got, err)
		}
	}
}

// TestShardsPartition checks that N shards split 1,000 targets so that each
// target is owned by exactly one shard, the shares are roughly even, and
// the assignment is stable: the same across calls and unchanged for the
// existing targets when targets are added.
func TestShardsPartition(t *testing.T) {
	var targets []policy.Target
	for ns := range 100 {
		for w := range 10 {
			targets = append(targets, policy.Target{Kind: "Deployment", Namespace: fmt.Sprintf("ns-%03d", ns), Name: fmt.Sprintf("web-%d", w)})
		}
	}
	const n = 4
	first := map[policy.Target]int{}
	counts := make([]int, n)
	for _, tg := range targets {
		owners := 0
		for i := range n {
			if (Shard{i, n}).Owns(tg) {
				owners++
				first[tg] = i
				counts[i]++
			}
		}
		if owners != 1 {
			t.Fatalf("%s owned by %d shards", tg, owners)
		}
	}
	for i, c := range counts {
		// 250 expected; a binomial(1000, 1/4) is within ±60 with overwhelming probability,
		// and FNV is deterministic, so this cannot flake.
		if c < 190 || c > 310 {
			t.Errorf("shard %d has %d of 1000", i, c)
		}
	}
	// Known value from an independent FNV-1a-32 (offset 0x811c9dc5, prime 0x01000193, in Python):
	// "Deployment/shop/web" hashes to 0x535842d6 = 1398293206, and 1398293206 mod 7 = 2.
	if got := ShardOf(policy.Target{Kind: "Deployment", Namespace: "shop", Name: "web"}, 7); got != 2 {
		t.Fatalf("ShardOf(Deployment/shop/web, 7) = %d, want 2", got)
	}
	more := append(append([]policy.Target(nil), targets...), policy.Target{Kind: "StatefulSet", Namespace: "db", Name: "pg"})
	for _, tg := range more[:len(targets)] {
		if ShardOf(tg, n) != first[tg] {
			t.Fatalf("%s moved", tg)
		}
	}
	if !(Shard{}).Owns(targets[0]) || !(Shard{0, 1}).Owns(targets[0]) {
		t.Fatal("the zero shard must own everything")
	}
}
