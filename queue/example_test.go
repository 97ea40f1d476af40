package queue_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"posd/queue"
	"posd/queue/engine"
)

// Open a journal, journal a sale durably, and list the day's sales.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "posd-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := queue.Open(filepath.Join(dir, "posd.db"), queue.Options{})
	if err != nil {
		log.Fatal(err) // e.g. "storage /x/posd.db is locked by another process (is posd already running?)"
	}
	defer db.Close()

	created := time.Date(2026, 11, 26, 10, 0, 0, 0, db.Location())
	err = db.Update(func(tx engine.Tx) error {
		seq, err := tx.NextSeq()
		if err != nil {
			return err
		}
		otn, err := engine.OutTradeNo("HK001", "T01", created, seq)
		if err != nil {
			return err
		}
		return tx.PutSale(&engine.Sale{
			ID: "HK001-T01-261126-1", Amount: 1250, Currency: "HKD", State: engine.SalePaying,
			CreatedAt: created,
			Attempts: []engine.Attempt{{
				OutTradeNo: otn,
				State:      engine.AttemptPaying, StartedAt: created,
			}},
		})
	}) // fsynced when Update returns: now the micropay may leave
	if err != nil {
		log.Fatal(err)
	}
	db.View(func(tx engine.ReadTx) error {
		sales, _ := tx.SalesByDay("2026-11-26")
		open, _ := tx.OpenSales()
		for _, s := range sales {
			fmt.Println(s.ID, s.State, s.Attempts[0].OutTradeNo, "version", s.Version)
		}
		fmt.Println("open:", len(open))
		return nil
	})
	// Output:
	// HK001-T01-261126-1 paying HK001_T01_261126000001 version 1
	// open: 1
}
