// Command apiserver serves tenantctl's HTTP API (package api) over its
// PostgreSQL database; `apiserver --help` lists what it serves and its
// flags. Everything but the wiring to the process lives in package
// apiserver.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tenantctl/tenantctl/pkg/apiserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := apiserver.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
