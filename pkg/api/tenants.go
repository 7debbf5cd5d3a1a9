package api

import (
	"context"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/tenancy"
)

// resolveCenter is the tenant middleware's Resolver: key must be a center
// id, a canonical UUID (anything else is tenancy.ErrInvalidName, answered
// 404). Whether the center exists and is active is the Store's to say, in
// the first round trip of the request's own transaction
// (domain.Store's center check, beside the principal's guard): one
// decision, made where it cannot go stale.
func resolveCenter(_ context.Context, key string) (uuid.UUID, error) {
	return tenancy.ParseID(key)
}
