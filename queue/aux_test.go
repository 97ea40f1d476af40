package queue

import (
	"path/filepath"
	"testing"
)

// An aux bucket survives a restart, deletes by nil, and leaves the journal's check happy.
func TestAux(t *testing.T) {
	path := filepath.Join(t.TempDir(), "posd.db")
	db := mustOpenPath(t, path)
	if all, err := db.Aux("pin").All(); err != nil || len(all) != 0 {
		t.Fatalf("empty: %v %v", all, err)
	}
	if err := db.Aux("pin").Put("192.0.2.1", []byte(`{"fails":5}`)); err != nil {
		t.Fatal(err)
	}
	if err := db.Aux("pin").Put("192.0.2.2", []byte(`{"fails":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := db.Aux("pin").Put("192.0.2.2", nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Check(); err != nil {
		t.Fatalf("check: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2 := mustOpenPath(t, path)
	all, err := db2.Aux("pin").All()
	if err != nil || len(all) != 1 || string(all["192.0.2.1"]) != `{"fails":5}` {
		t.Fatalf("after reopen: %q %v", all, err)
	}
}
