package queue

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// bAux prefixes small buckets of daemon state that must survive a restart but are not
// part of the sales journal (the manager-PIN lockout per source). Check ignores them.
const bAux = "aux:"

// Aux is one such bucket: opaque values by key.
type Aux struct {
	db   *DB
	name []byte
}

// Aux returns the auxiliary bucket name; it is created on the first Put.
func (db *DB) Aux(name string) *Aux { return &Aux{db: db, name: []byte(bAux + name)} }

// Put stores value under key; a nil value deletes the key.
func (a *Aux) Put(key string, value []byte) error {
	if a.db.readOnly {
		return ErrReadOnly
	}
	err := a.db.bolt.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(a.name)
		if err != nil {
			return err
		}
		if value == nil {
			return b.Delete([]byte(key))
		}
		return b.Put([]byte(key), value)
	})
	if err != nil {
		return fmt.Errorf("aux %s: %w", a.name, err)
	}
	return nil
}

// All returns every key and value (copies).
func (a *Aux) All() (map[string][]byte, error) {
	out := map[string][]byte{}
	err := a.db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(a.name)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = append([]byte(nil), v...)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("aux %s: %w", a.name, err)
	}
	return out, nil
}
