// Package pkg is what the planted docs describe.
package pkg

import "fmt"

// Lib has a method.
type Lib struct{}

// Method is declared.
func (Lib) Method() { fmt.Println("declared") }

// StillThere was stillThere once.
func StillThere() {}
