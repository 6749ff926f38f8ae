package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/scantron/scantron/accounts"
)

func TestUsersSessionsTokens(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	now := time.Now().UTC()

	made, err := st.CreateFirstUser(ctx, accounts.User{Name: "root", Role: accounts.Admin, PasswordHash: "h1"})
	must(t, err)
	if !made {
		t.Fatal("first user not made in an empty database")
	}
	made, err = st.CreateFirstUser(ctx, accounts.User{Name: "other", Role: accounts.Admin, PasswordHash: "h1"})
	must(t, err)
	if made {
		t.Fatal("CreateFirstUser made a second user")
	}
	root, err := st.GetUserByName(ctx, "root")
	must(t, err)

	alice, err := st.CreateUser(ctx, accounts.User{Name: "alice", Role: accounts.Viewer, PasswordHash: "h2"})
	must(t, err)
	_, err = st.CreateUser(ctx, accounts.User{Name: "alice", Role: accounts.Viewer, PasswordHash: "h2"})
	wantErr(t, err, ErrConflict)
	_, err = st.CreateUser(ctx, accounts.User{Name: "bob", Role: "root", PasswordHash: "h2"})
	wantErr(t, err, ErrInvalid)
	if n, err := st.CountAdmins(ctx); err != nil || n != 1 {
		t.Fatalf("CountAdmins = %d, %v", n, err)
	}

	// Sessions: found while unexpired, with their user.
	secret := accounts.HashSecret("s1")
	must(t, st.CreateSession(ctx, secret, accounts.Session{UserID: alice.ID, CSRF: "c1", ExpiresAt: now.Add(time.Hour)}))
	sess, u, err := st.GetSession(ctx, secret, now)
	must(t, err)
	if sess.CSRF != "c1" || u.Name != "alice" || u.Role != accounts.Viewer {
		t.Fatalf("session %+v of %+v", sess, u)
	}
	_, _, err = st.GetSession(ctx, secret, now.Add(2*time.Hour))
	wantErr(t, err, ErrNotFound)
	if n, err := st.DeleteExpiredSessions(ctx, now.Add(2*time.Hour)); err != nil || n != 1 {
		t.Fatalf("DeleteExpiredSessions = %d, %v", n, err)
	}

	// A new password ends the user's sessions; a role change alone does not.
	must(t, st.CreateSession(ctx, secret, accounts.Session{UserID: alice.ID, CSRF: "c1", ExpiresAt: now.Add(time.Hour)}))
	alice, err = st.UpdateUser(ctx, alice.ID, accounts.Operator, "")
	must(t, err)
	if alice.Role != accounts.Operator || alice.PasswordHash != "h2" {
		t.Fatalf("after role change: %+v", alice)
	}
	_, _, err = st.GetSession(ctx, secret, now)
	must(t, err)
	_, err = st.UpdateUser(ctx, alice.ID, accounts.Operator, "h3")
	must(t, err)
	_, _, err = st.GetSession(ctx, secret, now)
	wantErr(t, err, ErrNotFound)
	_, err = st.UpdateUser(ctx, 987654, accounts.Operator, "")
	wantErr(t, err, ErrNotFound)

	// Tokens: found by hash, used-at noted, revocable only by their owner
	// (or with user 0, by an admin).
	tok, err := st.CreateToken(ctx, alice.ID, "ci", "sct_abcd", accounts.HashSecret("t1"), now.Add(time.Hour))
	must(t, err)
	if tok.ExpiresAt.Sub(now.Add(time.Hour)).Abs() > time.Millisecond {
		t.Fatalf("token expires at %v", tok.ExpiresAt)
	}
	// Past its expiry a token finds no one.
	_, err = st.UserByToken(ctx, accounts.HashSecret("t1"), now.Add(time.Hour))
	wantErr(t, err, ErrNotFound)
	got, err := st.UserByToken(ctx, accounts.HashSecret("t1"), now)
	must(t, err)
	if got.ID != alice.ID {
		t.Fatalf("token user %+v", got)
	}
	list, err := st.ListTokens(ctx, alice.ID)
	must(t, err)
	if len(list) != 1 || list[0].Name != "ci" || list[0].LastUsedAt == nil {
		t.Fatalf("ListTokens = %+v", list)
	}
	// Used again within the minute: the time is not rewritten; later, it is.
	first := *list[0].LastUsedAt
	_, err = st.UserByToken(ctx, accounts.HashSecret("t1"), now.Add(30*time.Second))
	must(t, err)
	list, _ = st.ListTokens(ctx, alice.ID)
	if !list[0].LastUsedAt.Equal(first) {
		t.Errorf("last used rewritten within the minute: %v, was %v", list[0].LastUsedAt, first)
	}
	_, err = st.UserByToken(ctx, accounts.HashSecret("t1"), now.Add(2*time.Minute))
	must(t, err)
	list, _ = st.ListTokens(ctx, alice.ID)
	if !list[0].LastUsedAt.After(first) {
		t.Errorf("last used not updated after two minutes: %v", list[0].LastUsedAt)
	}
	_, err = st.UserByToken(ctx, accounts.HashSecret("t2"), now)
	wantErr(t, err, ErrNotFound)
	wantErr(t, st.RevokeToken(ctx, tok.ID, root.ID), ErrNotFound)
	must(t, st.RevokeToken(ctx, tok.ID, alice.ID))
	_, err = st.UserByToken(ctx, accounts.HashSecret("t1"), now)
	wantErr(t, err, ErrNotFound)

	// Deleting a user takes their tokens and sessions along.
	// A new password revokes the user's tokens.
	_, err = st.CreateToken(ctx, alice.ID, "ci2", "sct_efgh", accounts.HashSecret("t3"), now.Add(time.Hour))
	must(t, err)
	_, err = st.UpdateUser(ctx, alice.ID, accounts.Operator, "h4")
	must(t, err)
	_, err = st.UserByToken(ctx, accounts.HashSecret("t3"), now)
	wantErr(t, err, ErrNotFound)
	_, err = st.CreateToken(ctx, alice.ID, "ci3", "sct_ijkl", accounts.HashSecret("t4"), now.Add(time.Hour))
	must(t, err)
	must(t, st.DeleteUser(ctx, alice.ID))
	if n := count(t, st, `SELECT count(*) FROM api_tokens WHERE user_id = $1`, alice.ID); n != 0 {
		t.Fatalf("%d tokens of a deleted user remain", n)
	}
	wantErr(t, st.DeleteUser(ctx, alice.ID), ErrNotFound)
	users, err := st.ListUsers(ctx)
	must(t, err)
	if len(users) != 1 || users[0].Name != "root" {
		t.Fatalf("ListUsers = %+v", users)
	}
}
