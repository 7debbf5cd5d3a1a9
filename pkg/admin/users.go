package admin

// userRoutes registers the users' pages and their tokens'.
func (c *Console) userRoutes() {}
