package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/spf13/cobra"
	"k8s.io/utils/clock"

	"github.com/headroom-dev/headroom/runner"
)

func init() { commands = append(commands, newServeCmd) }

func newServeCmd() *cobra.Command {
	var f runFlags
	var listen string
	cmd := &cobra.Command{
		Use:   "serve --config FILE [--listen :8080]",
		Short: "Run cycles on the plan's schedule; serve /metrics and /healthz",
		Long: `The long-running alternative to the CronJob: runs headroom run's cycle at each
activation of the plan's spec.schedule (a cron expression, in UTC), holding
the plan's Lease for each cycle, and serves Prometheus metrics on /metrics
and a health check on /healthz (503 when a cycle has run for more than 10
minutes). Stops on SIGTERM or SIGINT after the cycle in progress.`,
		Example: `  headroom serve --config plan.yaml --listen :8080`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, err := wire(cmd, &f, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer w.Close()
			if w.plan.Spec.Schedule == "" {
				return usagef("%s: spec.schedule: required by headroom serve (a cron expression such as \"*/5 * * * *\")", w.plan.File())
			}
			sched, err := cron.ParseStandard(w.plan.Spec.Schedule)
			if err != nil {
				return usagef("%s:%d: spec.schedule: %v", w.plan.File(), w.plan.Line("spec.schedule"), err)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			s := &runner.Server{Runner: w.runner, Schedule: sched, Clock: clock.RealClock{}}
			hs := &http.Server{Handler: s.Handler(w.reg), ReadHeaderTimeout: 10 * time.Second}
			served := make(chan error, 1)
			go func() { served <- hs.Serve(ln) }()
			w.log.Info("serving", "listen", ln.Addr().String(), "schedule", w.plan.Spec.Schedule)
			err = s.Run(ctx)
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = hs.Shutdown(sctx)
			if serr := <-served; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
				return serr
			}
			return err
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&listen, "listen", ":8080", "address of the /metrics and /healthz server")
	return cmd
}
