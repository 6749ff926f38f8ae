// Package accounts holds who may use Scantron and how they prove it: users
// and their roles, password hashing, and the random secrets behind session
// cookies and API tokens, of which only hashes are ever stored.
package accounts
