package admin

// centerRoutes registers the centers' pages.
func (c *Console) centerRoutes() {}
