package telegramtest

import (
	"errors"
	"fmt"
	"net"
	"sync"
)

// switchListener is a net.Listener whose socket can be closed and reopened
// on the same address while the http.Server keeps serving from it, so the
// fake can refuse connections for a while ("Telegram is down") and come back
// at the same URL.
type switchListener struct {
	addr net.Addr

	mu      sync.Mutex
	l       net.Listener // nil while down
	changed chan struct{}
	closed  bool
}

func newSwitchListener(l net.Listener) *switchListener {
	return &switchListener{addr: l.Addr(), l: l, changed: make(chan struct{})}
}

func (s *switchListener) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *switchListener) Accept() (net.Conn, error) {
	for {
		s.mu.Lock()
		l, ch, closed := s.l, s.changed, s.closed
		s.mu.Unlock()
		if closed {
			return nil, net.ErrClosed
		}
		if l == nil {
			<-ch // down: wait for up or close
			continue
		}
		c, err := l.Accept()
		if err == nil {
			return c, nil
		}
		s.mu.Lock()
		downOnPurpose := !s.closed && s.l != l
		s.mu.Unlock()
		if downOnPurpose {
			continue // not the server's end: wait for up
		}
		return nil, err
	}
}

func (s *switchListener) down() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.l != nil {
		_ = s.l.Close()
		s.l = nil
		s.notifyLocked()
	}
}

func (s *switchListener) up() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("telegramtest: server closed")
	}
	if s.l != nil {
		return nil
	}
	l, err := net.Listen("tcp", s.addr.String())
	if err != nil {
		return fmt.Errorf("telegramtest: listen again on %s: %w", s.addr, err)
	}
	s.l = l
	s.notifyLocked()
	return nil
}

func (s *switchListener) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	if s.l != nil {
		err = s.l.Close()
		s.l = nil
	}
	s.notifyLocked()
	return err
}

func (s *switchListener) Addr() net.Addr { return s.addr }
