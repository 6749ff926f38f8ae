package manage

import (
	"context"
	"errors"
	"strings"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/scan"
)

// UserStore keeps users and their API tokens.
type UserStore interface {
	CreateUser(ctx context.Context, u accounts.User) (accounts.User, error)
	GetUser(ctx context.Context, id int64) (accounts.User, error)
	ListUsers(ctx context.Context) ([]accounts.User, error)
	UpdateUser(ctx context.Context, id int64, role accounts.Role, passwordHash string) (accounts.User, error)
	DeleteUser(ctx context.Context, id int64) error
	CountAdmins(ctx context.Context) (int, error)
	ListTokens(ctx context.Context, userID int64) ([]accounts.Token, error)
	RevokeToken(ctx context.Context, id, userID int64) error
}

// Users manages accounts: users, their roles and passwords, and (for an
// admin) their API tokens. There is always an admin left.
type Users struct {
	Store UserStore
}

// UserInput is a new user.
type UserInput struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"`
}

// UserUpdate changes a user's role and, when Password is set, password.
type UserUpdate struct {
	Role     string `json:"role"`
	Password string `json:"password"`
}

// PasswordChange is a user's change of their own password.
type PasswordChange struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// refusal wraps an error whose message already names its field
// ("password: too short") as an invalid-input refusal of that field.
func refusal(prefix string, err error) *Error {
	msg := prefix + err.Error()
	field, _, _ := strings.Cut(msg, ":")
	return refuse(Invalid, field, "%s", msg)
}

// Create checks a new user's name, role and password and stores the user
// with the password hashed.
func (x *Users) Create(ctx context.Context, in UserInput) (accounts.User, error) {
	name := strings.TrimSpace(in.Name)
	if err := accounts.CheckName(name); err != nil {
		return accounts.User{}, invalid("name", "%v", err)
	}
	role, err := accounts.ParseRole(in.Role)
	if err != nil {
		return accounts.User{}, invalid("role", "%v", err)
	}
	hash, err := accounts.HashPassword(in.Password)
	if err != nil {
		return accounts.User{}, refusal("", err)
	}
	u, err := x.Store.CreateUser(ctx, accounts.User{Name: name, Role: role, PasswordHash: hash})
	if err != nil {
		return accounts.User{}, storeErr(err, scan.ErrConflict, Conflict, "name", "name: a user named %q already exists", in.Name)
	}
	return u, nil
}

// Get returns the user id names.
func (x *Users) Get(ctx context.Context, id int64) (accounts.User, error) {
	u, err := x.Store.GetUser(ctx, id)
	return u, notFound(err, "user", id)
}

// List returns every user.
func (x *Users) List(ctx context.Context) ([]accounts.User, error) { return x.Store.ListUsers(ctx) }

// Update changes a role and, if given, the password. The last admin
// cannot be demoted, so that someone can always manage accounts.
func (x *Users) Update(ctx context.Context, id int64, in UserUpdate) (accounts.User, error) {
	role, err := accounts.ParseRole(in.Role)
	if err != nil {
		return accounts.User{}, invalid("role", "%v", err)
	}
	hash := ""
	if in.Password != "" {
		if hash, err = accounts.HashPassword(in.Password); err != nil {
			return accounts.User{}, refusal("", err)
		}
	}
	old, err := x.Get(ctx, id)
	if err != nil {
		return accounts.User{}, err
	}
	if old.Role == accounts.Admin && role != accounts.Admin {
		if err := x.keepAnAdmin(ctx); err != nil {
			return accounts.User{}, err
		}
	}
	u, err := x.Store.UpdateUser(ctx, id, role, hash)
	return u, notFound(err, "user", id)
}

// Delete deletes a user, unless it is the last admin.
func (x *Users) Delete(ctx context.Context, id int64) error {
	u, err := x.Get(ctx, id)
	if err != nil {
		return err
	}
	if u.Role == accounts.Admin {
		if err := x.keepAnAdmin(ctx); err != nil {
			return err
		}
	}
	return notFound(x.Store.DeleteUser(ctx, id), "user", id)
}

func (x *Users) keepAnAdmin(ctx context.Context) error {
	n, err := x.Store.CountAdmins(ctx)
	if err != nil {
		return err
	}
	if n <= 1 {
		return refuse(Conflict, "role", "role: this is the last admin; make another user admin first")
	}
	return nil
}

// ChangeOwnPassword changes me's password, once they prove they know the
// current one. Every session and API token of me ends with the change.
func (x *Users) ChangeOwnPassword(ctx context.Context, me accounts.User, in PasswordChange) error {
	// The new password's shape first: it costs nothing and reveals nothing.
	if err := accounts.CheckNewPassword(in.NewPassword); err != nil {
		return refusal("new_", err)
	}
	if err := accounts.CheckPassword(me.PasswordHash, in.CurrentPassword); err != nil {
		if errors.Is(err, accounts.ErrWrongPassword) {
			return invalid("current_password", "wrong password")
		}
		return err
	}
	hash, err := accounts.HashPassword(in.NewPassword)
	if err != nil {
		return refusal("new_", err)
	}
	_, err = x.Store.UpdateUser(ctx, me.ID, me.Role, hash)
	return err
}

// Tokens lists the API tokens of the user userID names.
func (x *Users) Tokens(ctx context.Context, userID int64) ([]accounts.Token, error) {
	return x.Store.ListTokens(ctx, userID)
}

// RevokeToken revokes one of u's API tokens.
func (x *Users) RevokeToken(ctx context.Context, u accounts.User, tokenID int64) error {
	err := x.Store.RevokeToken(ctx, tokenID, u.ID)
	return storeErr(err, scan.ErrNotFound, NotFound, "", "token %d not found among %s's tokens", tokenID, u.Name)
}
