package ctxsleep

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("a finished wait: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// An hour-long wait on a context that has ended returns its error at once (the test would time out otherwise).
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("an ended context: %v, want context.Canceled", err)
	}
}
