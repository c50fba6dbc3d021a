package store

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// LocalOwner names the current process as a run owner: "pid@host".
func LocalOwner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%d@%s", os.Getpid(), host)
}

// LocalOwnerAlive reports whether the process named by owner ("pid@host")
// still exists. Owners on other hosts, and owners it cannot parse, count as
// alive: only a process of this host is known to be dead.
func LocalOwnerAlive(owner string) bool {
	pidText, host, ok := strings.Cut(owner, "@")
	if !ok {
		return true
	}
	if local, _ := os.Hostname(); host != local {
		return true
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 {
		return true
	}
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
