//go:build !linux

// Platform, elsewhere: no /proc, so no CPU time or memory of the servers.

package main

import (
	"errors"
	"syscall"
	"time"
)

var errNoProc = errors.New("needs Linux's /proc")

func childProcAttr() *syscall.SysProcAttr { return nil }

func processCPU(int) (time.Duration, error) { return 0, errNoProc }

func selfCPU() time.Duration { return 0 }

func processMemory(int) (rss, peak int64, err error) { return 0, 0, errNoProc }
