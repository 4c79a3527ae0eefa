package actuator

import "testing"

func TestPlanFloor(t *testing.T) {
	tests := []struct {
		name              string
		current, original int32
		hasOriginal       bool
		desired, max      int32
		want              Floor
	}{
		// The user's HPA says min 2; the forecast wants 6: raise, remember 2.
		{"raise", 2, 0, false, 6, 10, Floor{Min: 6, Original: 2, Raised: true}},
		// Raised to 6 before (original 2); now 8.
		{"raise further", 6, 2, true, 8, 10, Floor{Min: 8, Original: 2, Raised: true}},
		// The plan wants 1 now, below the user's 2: restore 2, drop the annotation.
		{"restore", 6, 2, true, 1, 10, Floor{Min: 2, Original: 2}},
		// Exactly the user's value: also a restore.
		{"restore at original", 6, 2, true, 2, 10, Floor{Min: 2, Original: 2}},
		// Never below the user's floor when headroom has not raised it.
		{"below the user's floor", 3, 0, false, 1, 10, Floor{Min: 3, Original: 3}},
		// Beyond maxReplicas: capped at 10.
		{"capped", 2, 0, false, 15, 10, Floor{Min: 10, Original: 2, Raised: true, Capped: true}},
		// Original already at max (the user's choice): stays.
		{"capped at original", 10, 0, false, 15, 10, Floor{Min: 10, Original: 10, Capped: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := PlanFloor(tc.current, tc.original, tc.hasOriginal, tc.desired, tc.max); got != tc.want {
				t.Fatalf("PlanFloor(%d, %d, %v, %d, %d) = %+v, want %+v", tc.current, tc.original, tc.hasOriginal, tc.desired, tc.max, got, tc.want)
			}
		})
	}
}
