// Package fakex is a stand-in for X on 127.0.0.1 that can be taken down,
// slowed down, broken in specific ways or made to flap. Tests and the demo
// point the probe at it.
package fakex

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Mode is how the fake answers.
type Mode int

const (
	Up        Mode = iota // 200 with a normal body
	Down503               // 503 Service Unavailable
	Hang                  // never answers until the client gives up
	Reset                 // accepts and resets the connection
	WrongBody             // 200 with an error page body
)

// Server is a fake X. Each path can be given its own mode; others use the default.
type Server struct {
	srv *httptest.Server

	mu      sync.Mutex
	mode    Mode
	paths   map[string]Mode
	delay   time.Duration
	held    chan struct{} // non-nil while SetHold(true): closed to let requests go on
	hits    int
	stop    chan struct{}
	stopped bool
}

// New starts a fake X on 127.0.0.1 in mode Up, as httptest.NewServer does:
// it panics if it cannot listen. Close it when done, e.g. with t.Cleanup(s.Close).
func New() *Server {
	s := &Server{paths: map[string]Mode{}, stop: make(chan struct{})}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic("fakex: listen on 127.0.0.1: " + err.Error())
	}
	s.srv.Listener = l
	s.srv.Start()
	return s
}

// URL is the base URL of the fake.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server. It may be called more than once.
func (s *Server) Close() {
	s.mu.Lock()
	if !s.stopped {
		close(s.stop)
		s.stopped = true
	}
	s.mu.Unlock()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Set changes the default mode.
func (s *Server) Set(m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// SetPath gives one path its own mode.
func (s *Server) SetPath(path string, m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paths[path] = m
}

// SetDelay slows every answer down.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetHold(true) makes every request wait, after it is counted in Hits and
// before it is answered, until SetHold(false); a test can then act while a
// probe is known to be in the middle of its request.
func (s *Server) SetHold(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case on && s.held == nil:
		s.held = make(chan struct{})
	case !on && s.held != nil:
		close(s.held)
		s.held = nil
	}
}

// Hits counts the requests served.
func (s *Server) Hits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.hits++
	mode, ok := s.paths[r.URL.Path]
	if !ok {
		mode = s.mode
	}
	delay, held := s.delay, s.held
	s.mu.Unlock()
	if held != nil {
		select {
		case <-held:
		case <-r.Context().Done():
			return
		case <-s.stop:
			return
		}
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		case <-s.stop:
			return
		}
	}
	switch mode {
	case Down503:
		http.Error(w, "Over capacity", http.StatusServiceUnavailable)
	case Hang:
		select {
		case <-r.Context().Done():
		case <-s.stop:
		}
	case Reset:
		hj, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "cannot reset", http.StatusInternalServerError)
			return
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with RST instead of FIN
		}
		conn.Close()
	case WrongBody:
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body>Something went wrong. Try reloading.</body></html>"))
	default:
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<html><head><title>X</title></head><body><div id="react-root">x.com</div></body></html>`))
	}
}
