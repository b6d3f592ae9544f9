package store

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// migration is one embedded schema migration.
type migration struct {
	Name    string // its path in the file system
	Version int    // the number its file name starts with
	Body    string
}

// readMigrations reads dir/*.sql from fsys, in order of their names.
func readMigrations(fsys fs.FS, dir string) ([]migration, error) {
	names, err := fs.Glob(fsys, dir+"/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	out := make([]migration, 0, len(names))
	for _, name := range names {
		version, err := strconv.Atoi(strings.SplitN(path.Base(name), "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number", name)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		out = append(out, migration{Name: name, Version: version, Body: string(body)})
	}
	return out, nil
}

// migrationSQL is a dialect's migrations and their bookkeeping.
type migrationSQL struct {
	fsys fs.FS
	dir  string
	// lock, if set, serialises migrations across processes for the rest
	// of the transaction.
	lock string
	// table creates schema_migrations if missing.
	table string
	// record is the insert of an applied version, with its args.
	record func(version int) (string, []any)
}

// migrate applies each pending migration in its own transaction. Processes
// that start at the same moment queue on the dialect's lock (or on the
// write lock); the one that comes second finds the version recorded and
// skips it.
func (s *Store) migrate(ctx context.Context) error {
	m := s.d.migrations()
	list, err := readMigrations(m.fsys, m.dir)
	if err != nil {
		return err
	}
	for _, mig := range list {
		err = s.tx(ctx, func(tx q) error {
			if m.lock != "" {
				if _, err := tx.exec(ctx, m.lock); err != nil {
					return fmt.Errorf("lock: %w", err)
				}
			}
			if _, err := tx.exec(ctx, m.table); err != nil {
				return fmt.Errorf("create schema_migrations: %w", err)
			}
			var applied bool
			if err := tx.row(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)`, mig.Version).Scan(&applied); err != nil || applied {
				return err
			}
			if _, err := tx.x.ExecContext(ctx, mig.Body); err != nil {
				return err
			}
			query, args := m.record(mig.Version)
			_, err := tx.exec(ctx, query, args...)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", mig.Name, err)
		}
	}
	return nil
}
