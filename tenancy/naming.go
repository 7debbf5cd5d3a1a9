package tenancy

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/internal/text"
)

// DefaultPrefix is the schema prefix of a Manager whose Config leaves
// Prefix empty.
const DefaultPrefix = "tenant_"

// maxIdentifierLen is PostgreSQL's NAMEDATALEN-1: a longer name is silently
// truncated by the server, which would make two tenants collide.
const maxIdentifierLen = 63

// prefixPattern keeps prefixes to lowercase ASCII so that a schema name
// never needs quoting to round-trip and never collides by case folding.
var prefixPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*_$`)

func validatePrefix(prefix string) error {
	if !prefixPattern.MatchString(prefix) || len(prefix)+32 > maxIdentifierLen {
		return fmt.Errorf("%w: prefix %q must match %s and leave room for 32 hex digits in %d characters",
			ErrInvalidName, prefix, prefixPattern, maxIdentifierLen)
	}
	if strings.HasPrefix(prefix, "pg_") {
		return fmt.Errorf("%w: prefix %q: names beginning with pg_ are reserved by PostgreSQL", ErrInvalidName, prefix)
	}
	return nil
}

// SchemaName is the schema of tenant id: the prefix followed by the 32
// lowercase hex digits of the UUID, without hyphens.
func (m *Manager) SchemaName(id uuid.UUID) string {
	var buf [32]byte
	hex.Encode(buf[:], id[:])
	return m.prefix + string(buf[:])
}

// isTenantSchema reports whether schema is of the shape SchemaName makes:
// ParseSchemaName's test, without its error.
func (m *Manager) isTenantSchema(schema string) bool {
	hexPart, ok := strings.CutPrefix(schema, m.prefix)
	return ok && len(hexPart) == 32 && isLowerHex(hexPart)
}

// ParseSchemaName returns the tenant id of a schema name the Manager would
// have derived, and ErrInvalidName for anything else: other prefixes,
// upper-case or short hex, quotes, whitespace, "public", "pg_catalog".
func (m *Manager) ParseSchemaName(schema string) (uuid.UUID, error) {
	if !m.isTenantSchema(schema) {
		return uuid.Nil, fmt.Errorf("%w: %q is not %s followed by 32 lowercase hex digits",
			ErrInvalidName, text.Truncate(schema, 80), m.prefix)
	}
	var id uuid.UUID
	if _, err := hex.Decode(id[:], []byte(schema[len(m.prefix):])); err != nil {
		return uuid.Nil, fmt.Errorf("%w: %q: %v", ErrInvalidName, schema, err)
	}
	return id, nil
}

// ParseID parses a tenant key as it arrives from outside (a path segment, a
// header): a canonical UUID, hyphenated, case-insensitive, nothing else.
// uuid.Parse alone also accepts braces, a "urn:uuid:" prefix and 32 bare
// digits; one spelling per tenant keeps caches and logs unambiguous.
func ParseID(key string) (uuid.UUID, error) {
	if len(key) != 36 {
		return uuid.Nil, fmt.Errorf("%w: %q is not a UUID", ErrInvalidName, text.Truncate(key, 80))
	}
	id, err := uuid.Parse(key)
	if err != nil {
		return uuid.Nil, fmt.Errorf("%w: %q is not a UUID", ErrInvalidName, key)
	}
	return id, nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
