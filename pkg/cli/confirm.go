package cli

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
)

// errDeclined is returned when the operator answers anything but yes.
var errDeclined = errors.New("aborted: not confirmed")

// canConfirm reports whether Confirm could get an answer: --yes was given or
// stdin is a terminal. Commands check it before doing any work, so a script
// that forgot --yes fails at once instead of after connecting and planning.
func (a *App) canConfirm() error {
	if a.Config.Yes || a.env.IsTerminal(a.env.Stdin) {
		return nil
	}
	return errors.New("refusing to proceed without confirmation: stdin is not a terminal; pass --yes to confirm")
}

// Confirm asks question on stderr and reads a y/N answer from stdin. It
// returns nil for yes (or when --yes was given), errDeclined for anything
// else, and canConfirm's error when stdin is not a terminal.
func (a *App) Confirm(question string) error {
	if a.Config.Yes {
		return nil
	}
	if err := a.canConfirm(); err != nil {
		return err
	}
	fmt.Fprintf(a.env.Stderr, "%s [y/N] ", question)
	answer, err := bufio.NewReader(a.env.Stdin).ReadString('\n')
	if err != nil && answer == "" {
		fmt.Fprintln(a.env.Stderr)
		return errDeclined
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return errDeclined
}
