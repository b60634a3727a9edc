package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// child is a server process this command started.
type child struct {
	name  string
	cmd   *exec.Cmd
	log   string // file holding its stderr
	stdin io.WriteCloser
	lines *bufio.Scanner // its stdout, after the first line
	done  chan struct{}
	err   error
}

// startChild starts cmd with stderr in a log file under dir. If wantLine,
// it waits up to a minute for the first stdout line and returns it.
func startChild(name, dir string, cmd *exec.Cmd, wantLine bool) (*child, string, error) {
	c := &child{name: name, cmd: cmd, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	logf, err := os.Create(c.log)
	if err != nil {
		return nil, "", err
	}
	defer logf.Close()
	cmd.Stderr = logf
	var out io.ReadCloser
	if wantLine {
		if out, err = cmd.StdoutPipe(); err != nil {
			return nil, "", err
		}
		if c.stdin, err = cmd.StdinPipe(); err != nil {
			return nil, "", err
		}
	} else {
		cmd.Stdout = logf
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("starting %s: %w", name, err)
	}
	go func() { c.err = cmd.Wait(); close(c.done) }()
	if !wantLine {
		return c, "", nil
	}
	c.lines = bufio.NewScanner(out)
	line := make(chan string, 1)
	go func() {
		if c.lines.Scan() {
			line <- c.lines.Text()
		}
		close(line)
	}()
	select {
	case l, ok := <-line:
		if ok {
			return c, strings.TrimSpace(l), nil
		}
	case <-time.After(time.Minute):
	}
	c.stop()
	return nil, "", fmt.Errorf("%s did not start: %s", name, c.tail())
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// tail returns the end of the child's log, for error messages.
func (c *child) tail() string {
	b, _ := os.ReadFile(c.log)
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	if s == "" {
		return "(no output)"
	}
	return s
}

// command sends one line to a child that reads commands on stdin and waits
// for its one-line answer.
func (c *child) command(ctx context.Context, cmd string) (string, error) {
	if _, err := io.WriteString(c.stdin, cmd+"\n"); err != nil {
		return "", err
	}
	ans := make(chan string, 1)
	go func() {
		if c.lines.Scan() {
			ans <- c.lines.Text()
		}
		close(ans)
	}()
	select {
	case a, ok := <-ans:
		if !ok {
			return "", fmt.Errorf("%s exited: %s", c.name, c.tail())
		}
		return a, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// stop ends the child: SIGTERM, then SIGKILL after ten seconds.
func (c *child) stop() error {
	if c == nil {
		return nil
	}
	select {
	case <-c.done:
		return nil
	default:
	}
	if c.stdin != nil {
		c.stdin.Close()
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("%s did not stop on SIGTERM", c.name)
	}
	var ee *exec.ExitError
	if c.err != nil && !errors.As(c.err, &ee) {
		return c.err
	}
	return nil
}
