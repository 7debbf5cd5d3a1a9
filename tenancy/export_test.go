package tenancy

// AssumeCitus makes m take the database for a Citus coordinator without
// asking, for the tests that run the Citus paths against PostgreSQL made
// to enforce Citus's rules (TestCitusRulesOnPostgres).
func AssumeCitus(m *Manager) { m.citusState.Store(citusPresent) }
