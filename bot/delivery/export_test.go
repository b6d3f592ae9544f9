package delivery

// Waiting is how many answers are inside Reply (for tests).
func (g *Gate) Waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.replies
}

// RecorderQueued is how many workers' writes wait in the recorder's queue
// (for tests); 0 when no recorder runs.
func (d *Dispatcher) RecorderQueued() int {
	if r := d.rec.Load(); r != nil {
		return len(r.queue)
	}
	return 0
}
