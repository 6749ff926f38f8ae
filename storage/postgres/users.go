package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/accounts"
)

const userCols = `id, name, role, password_hash, created_at`

func scanUser(row pgx.Row) (accounts.User, error) {
	var u accounts.User
	err := row.Scan(&u.ID, &u.Name, &u.Role, &u.PasswordHash, &u.CreatedAt)
	return u, err
}

// CreateUser adds a user; u.PasswordHash must already be a hash.
func (s *Store) CreateUser(ctx context.Context, u accounts.User) (accounts.User, error) {
	const q = `INSERT INTO users (name, role, password_hash) VALUES ($1, $2, $3) RETURNING ` + userCols
	out, err := scanUser(s.pool.QueryRow(ctx, q, u.Name, string(u.Role), u.PasswordHash))
	if err != nil {
		return accounts.User{}, mapWrite("create user", err, fmt.Sprintf("a user named %q already exists", u.Name))
	}
	return out, nil
}

// CreateFirstUser adds u only when there are no users yet, and reports
// whether it did. Concurrent servers starting at once create one user at
// most: the check and the insert run under a lock.
func (s *Store) CreateFirstUser(ctx context.Context, u accounts.User) (bool, error) {
	made := false
	err := s.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		const q = `INSERT INTO users (name, role, password_hash) VALUES ($1, $2, $3)`
		if _, err := tx.Exec(ctx, q, u.Name, string(u.Role), u.PasswordHash); err != nil {
			return mapWrite("create first user", err, "user exists")
		}
		made = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("create first user: %w", err)
	}
	return made, nil
}

// GetUser reads a user by id.
func (s *Store) GetUser(ctx context.Context, id int64) (accounts.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	if err != nil {
		return accounts.User{}, mapRead("get user", err, fmt.Sprintf("user %d", id))
	}
	return u, nil
}

// GetUserByName reads a user by name.
func (s *Store) GetUserByName(ctx context.Context, name string) (accounts.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE name = $1`, name))
	if err != nil {
		return accounts.User{}, mapRead("get user", err, fmt.Sprintf("user %q", name))
	}
	return u, nil
}

// ListUsers returns every user by name.
func (s *Store) ListUsers(ctx context.Context) ([]accounts.User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (accounts.User, error) { return scanUser(r) })
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// UpdateUser changes a user's role and, when passwordHash is not empty,
// password. A new password ends the user's sessions and revokes their API
// tokens: whoever learnt the old password may have made some.
func (s *Store) UpdateUser(ctx context.Context, id int64, role accounts.Role, passwordHash string) (accounts.User, error) {
	var out accounts.User
	err := s.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		const q = `UPDATE users SET role = $2, password_hash = COALESCE(NULLIF($3, ''), password_hash)
			WHERE id = $1 RETURNING ` + userCols
		u, err := scanUser(tx.QueryRow(ctx, q, id, string(role), passwordHash))
		if isNoRows(err) {
			return fmt.Errorf("update user: %w: user %d", ErrNotFound, id)
		}
		if err != nil {
			return mapWrite("update user", err, "conflict")
		}
		if passwordHash != "" {
			if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id); err != nil {
				return fmt.Errorf("update user: %w", err)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM api_tokens WHERE user_id = $1`, id); err != nil {
				return fmt.Errorf("update user: %w", err)
			}
		}
		out = u
		return nil
	})
	return out, err
}

// DeleteUser removes a user with their sessions and tokens.
func (s *Store) DeleteUser(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete user: %w: user %d", ErrNotFound, id)
	}
	return nil
}

// CountAdmins counts the users with the admin role, so that the last one
// is not demoted or deleted.
func (s *Store) CountAdmins(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE role = 'admin'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count admins: %w", err)
	}
	return n, nil
}

// CreateSession records a login under the hash of its secret.
func (s *Store) CreateSession(ctx context.Context, secretHash []byte, sess accounts.Session) error {
	const q = `INSERT INTO sessions (secret_hash, user_id, csrf, expires_at) VALUES ($1, $2, $3, $4)`
	if _, err := s.pool.Exec(ctx, q, secretHash, sess.UserID, sess.CSRF, sess.ExpiresAt); err != nil {
		return mapWrite("create session", err, "session exists")
	}
	return nil
}

// GetSession returns the unexpired session with that secret hash and its
// user. Expired sessions are removed on the way.
func (s *Store) GetSession(ctx context.Context, secretHash []byte, now time.Time) (accounts.Session, accounts.User, error) {
	const q = `SELECT s.user_id, s.csrf, s.expires_at, u.id, u.name, u.role, u.password_hash, u.created_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.secret_hash = $1 AND s.expires_at > $2`
	var sess accounts.Session
	var u accounts.User
	err := s.pool.QueryRow(ctx, q, secretHash, now).Scan(&sess.UserID, &sess.CSRF, &sess.ExpiresAt,
		&u.ID, &u.Name, &u.Role, &u.PasswordHash, &u.CreatedAt)
	if err != nil {
		return accounts.Session{}, accounts.User{}, mapRead("get session", err, "session")
	}
	return sess, u, nil
}

// DeleteSession ends a login; ending one that does not exist is not an
// error.
func (s *Store) DeleteSession(ctx context.Context, secretHash []byte) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE secret_hash = $1`, secretHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions that ended before now.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, now)
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}

const tokenCols = `id, user_id, name, prefix, created_at, last_used_at, expires_at`

func scanToken(row pgx.Row) (accounts.Token, error) {
	var t accounts.Token
	err := row.Scan(&t.ID, &t.UserID, &t.Name, &t.Prefix, &t.CreatedAt, &t.LastUsedAt, &t.ExpiresAt)
	return t, err
}

// CreateToken records an API token under the hash of its secret; it works
// until expiresAt.
func (s *Store) CreateToken(ctx context.Context, userID int64, name, prefix string, secretHash []byte, expiresAt time.Time) (accounts.Token, error) {
	const q = `INSERT INTO api_tokens (user_id, name, prefix, secret_hash, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING ` + tokenCols
	t, err := scanToken(s.pool.QueryRow(ctx, q, userID, name, prefix, secretHash, expiresAt))
	if err != nil {
		return accounts.Token{}, mapWrite("create token", err, "token exists")
	}
	return t, nil
}

// ListTokens returns a user's tokens, newest first.
func (s *Store) ListTokens(ctx context.Context, userID int64) ([]accounts.Token, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE user_id = $1 ORDER BY id DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (accounts.Token, error) { return scanToken(r) })
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// UserByToken returns the user an unexpired token's secret hash belongs
// to, and notes when the token was used, to the minute: a script calling
// in a loop costs one write a minute, not one per request.
func (s *Store) UserByToken(ctx context.Context, secretHash []byte, now time.Time) (accounts.User, error) {
	const q = `WITH t AS (SELECT id, user_id FROM api_tokens WHERE secret_hash = $1 AND expires_at > $2),
		used AS (UPDATE api_tokens SET last_used_at = $2 WHERE id = (SELECT id FROM t)
			AND (last_used_at IS NULL OR last_used_at < $2::timestamptz - interval '1 minute'))
		SELECT ` + userCols + ` FROM users WHERE id = (SELECT user_id FROM t)`
	u, err := scanUser(s.pool.QueryRow(ctx, q, secretHash, now))
	if err != nil {
		return accounts.User{}, mapRead("token user", err, "token")
	}
	return u, nil
}

// RevokeToken deletes token id. With userID > 0 only that user's token
// matches, so one user cannot revoke another's.
func (s *Store) RevokeToken(ctx context.Context, id, userID int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM api_tokens WHERE id = $1 AND ($2 = 0 OR user_id = $2)`, id, userID)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("revoke token: %w: token %d", ErrNotFound, id)
	}
	return nil
}
