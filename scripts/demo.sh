#!/usr/bin/env bash
# demo.sh — run by `make demo` under pgenv, which sets DATABASE_URL:
# migrate, seed, give the demo users a password for the web console, print
# a token per demo user, curl commands and console sign-ins that work as
# printed, then serve the API and the console in the foreground until Ctrl-C.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

: "${DATABASE_URL:?demo.sh runs under pgenv demo (make demo), which sets DATABASE_URL}"
ADDR=${ADDR:-127.0.0.1:8000}

go build -o bin/tenantctl ./cmd/tenantctl
go build -o bin/apiserver ./cmd/apiserver

bin/tenantctl migrate
bin/tenantctl seed

# The console signs in with passwords, which the seed does not set: every
# demo user gets the same one, so that each role can be tried.
DEMO_PASSWORD=${DEMO_PASSWORD:-tenantctl-demo}
for user in admin istanbul_admin istanbul_user istanbul_viewer ankara_admin ankara_user ankara_viewer; do
	printf '%s\n' "$DEMO_PASSWORD" | bin/tenantctl user update "$user" --password-stdin >/dev/null
done

# Tokens are printed once by design; the demo issues fresh ones each run.
token_for() {
	bin/tenantctl token create --user "$1" --name demo --ttl 24h -o json |
		sed -n 's/^ *"token": *"\([^"]*\)".*/\1/p'
}
echo
echo "Demo tokens (valid 24 h):"
for user in admin istanbul_admin istanbul_user istanbul_viewer ankara_admin ankara_user ankara_viewer; do
	tok=$(token_for "$user")
	printf '  %-16s %s\n' "$user" "$tok"
	case $user in
	admin) ADMIN_TOKEN=$tok ;;
	istanbul_user) USER_TOKEN=$tok ;;
	esac
done
center=$(bin/tenantctl center get "Istanbul Medical Center" -o json | sed -n 's/^ *"id": *"\([^"]*\)".*/\1/p' | head -n 1)

cat <<MSG

Try (in another terminal, while the server runs):
  curl -s -H 'Authorization: Bearer $ADMIN_TOKEN' http://$ADDR/api/centers/
  curl -s -H 'Authorization: Bearer $USER_TOKEN' 'http://$ADDR/api/centers/$center/samples/?status=pending'
  curl -s -X POST -H 'Authorization: Bearer $USER_TOKEN' -H 'Content-Type: application/json' \\
    -d '{"name": "Demo sample", "sample_type": "blood", "barcode": "DEMO-'"\$RANDOM"'"}' http://$ADDR/api/centers/$center/samples/

The web console: http://$ADDR/admin/
  superuser:     admin / $DEMO_PASSWORD
  center admin:  istanbul_admin / $DEMO_PASSWORD   (every demo user has this password)

Serving the API and the console on http://$ADDR (Ctrl-C stops it).
MSG
exec bin/apiserver --addr "$ADDR"
