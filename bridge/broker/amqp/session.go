package amqp

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// session is one connection and its confirm-mode channels. It lives until
// the connection is lost or the publisher closes; a reconnection makes a
// new session.
type session struct {
	conn    *amqp091.Connection
	free    chan *slot    // idle slots; capacity: all of them
	dead    chan struct{} // closed when the session ends
	closes  chan *amqp091.Error
	blocks  chan amqp091.Blocking
	blocked atomic.Pointer[string] // RabbitMQ's reason while it blocks the connection
	retry   time.Duration          // wait between attempts to reopen a channel
	wg      sync.WaitGroup         // the slots' workers
	once    sync.Once
}

// openSession opens n confirm-mode channels on conn and starts a worker
// for each.
func openSession(conn *amqp091.Connection, n int, retry time.Duration) (*session, error) {
	s := &session{
		conn:   conn,
		free:   make(chan *slot, n),
		dead:   make(chan struct{}),
		closes: conn.NotifyClose(make(chan *amqp091.Error, 1)),
		blocks: conn.NotifyBlocked(make(chan amqp091.Blocking, 4)),
		retry:  retry,
	}
	slots := make([]*slot, n)
	for i := range slots {
		sl := &slot{s: s, job: make(chan struct{}, 1)}
		if err := sl.open(); err != nil {
			return nil, err
		}
		slots[i] = sl
	}
	for _, sl := range slots {
		s.wg.Add(1)
		go sl.work()
		s.free <- sl
	}
	return s, nil
}

// serve follows the connection until it is lost (returning why) or ctx
// ends (returning ctx's error).
func (s *session) serve(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err, ok := <-s.closes:
			if !ok || err == nil {
				return errors.New("connection closed")
			}
			return err
		case b := <-s.blocks:
			if b.Active {
				reason := b.Reason
				s.blocked.Store(&reason)
			} else {
				s.blocked.Store(nil)
			}
		}
	}
}

// shutdown ends the session: waiting publishes fail, the connection is
// closed (waiting up to timeout for the broker's answer) and the workers
// have returned when it returns. Safe to call more than once.
func (s *session) shutdown(timeout time.Duration) {
	s.once.Do(func() {
		close(s.dead)
		_ = s.conn.CloseDeadline(time.Now().Add(timeout))
		s.wg.Wait()
	})
}

// slot is one confirm-mode channel and the worker goroutine that publishes
// on it, one message at a time. A publisher takes a free slot, fills in
// the message, hands it to the worker and waits for the answer on a
// channel of its own (or for its context). The worker puts the slot back
// once the broker has answered, so a publish abandoned by its caller
// still holds the channel until its confirmation arrives, and every
// basic.return on the channel belongs to the one publish in flight there.
type slot struct {
	s       *session
	ch      *amqp091.Channel
	returns chan amqp091.Return
	closed  chan *amqp091.Error
	job     chan struct{} // the message below is ready; capacity 1

	// The message, written by the publisher holding the slot before it
	// signals job, read by the worker. Body and headers are the slot's
	// own copies, reused from one publish to the next. reply (capacity
	// 1) is the publish's own channel for the answer.
	reply    chan result
	exchange string
	key      string
	pub      amqp091.Publishing
	body     []byte
	headers  amqp091.Table
}

type result struct {
	err error
}

// open opens the slot's channel in confirm mode.
func (sl *slot) open() error {
	ch, err := sl.s.conn.Channel()
	if err != nil {
		return err
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return err
	}
	// A channel has at most one publish in flight, so at most one
	// return and one close to hold.
	sl.returns = ch.NotifyReturn(make(chan amqp091.Return, 1))
	sl.closed = ch.NotifyClose(make(chan *amqp091.Error, 1))
	sl.ch = ch
	return nil
}

// work publishes each message handed to the slot until the session ends.
func (sl *slot) work() {
	defer sl.s.wg.Done()
	for {
		select {
		case <-sl.job:
		case <-sl.s.dead:
			return
		}
		reply := sl.reply
		sl.reply = nil
		reply <- result{err: sl.publish()}
		if sl.ch.IsClosed() && !sl.reopen() {
			return
		}
		sl.s.free <- sl
	}
}

// reopen replaces the slot's channel, closed by the broker after a
// channel error, retrying until it succeeds or the session ends.
func (sl *slot) reopen() bool {
	for {
		select {
		case <-sl.s.dead:
			return false
		default:
		}
		if sl.s.conn.IsClosed() {
			return false
		}
		if sl.open() == nil {
			return true
		}
		t := time.NewTimer(sl.s.retry)
		select {
		case <-sl.s.dead:
			t.Stop()
			return false
		case <-t.C:
		}
	}
}
