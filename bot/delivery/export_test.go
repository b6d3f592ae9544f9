package delivery

// Waiting is how many answers are inside Reply (for tests).
func (g *Gate) Waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.replies
}
