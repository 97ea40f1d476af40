package check

import (
	"reflect"
	"testing"
)

func TestList(t *testing.T) {
	var l List
	if l.Required("a", " ") || !l.Required("b", "x") {
		t.Fatal("Required")
	}
	if l.OneOf("c", "z", "x", "y") || !l.OneOf("d", "y", "x", "y") {
		t.Fatal("OneOf")
	}
	l.Add("e", "%d is too big", 7)
	want := []Problem{{"s.a", "required"}, {"s.c", `must be one of x, y (got "z")`}, {"s.e", "7 is too big"}}
	if got := Under("s.", l); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	if s := want[0].String(); s != "s.a: required" {
		t.Fatalf("String: %q", s)
	}
}
