package probe

import "context"

// Check performs one request against t and classifies the outcome, so the
// tests can attack one request without a round and its retry around it.
func (c *Checker) Check(ctx context.Context, t Target) Result {
	r, _ := c.check(ctx, t, c.Timeout, c.clock())
	return r
}
