// Package pkg is what the clean docs describe.
package pkg

import (
	"fmt"
	nethttp "net/http"
)

// Lib has methods.
type Lib struct{}

// Method is a method.
func (Lib) Method() { fmt.Println(constant, variable) }

// Iface declares a method of its own.
type Iface interface {
	Do() error
}

// New is a function.
func New() *Lib { return &Lib{} }

const constant = 1

var variable, other = 2, 3

var _ = nethttp.StatusOK
