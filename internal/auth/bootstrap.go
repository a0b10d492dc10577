// The bootstrap: the first admin, made on an empty database.
package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/postbode/postbode/internal/id"
	"github.com/postbode/postbode/internal/store"
)

// BootstrapEmail is the address of the first admin.
const BootstrapEmail = "admin@localhost"

// MinBootstrapToken is the shortest POSTBODE_BOOTSTRAP_TOKEN accepted.
const MinBootstrapToken = 32

// CheckBootstrapToken refuses a token that is too short or holds anything
// but visible ASCII: blanks, whitespace and control characters would make
// a token that cannot be sent in a header as it was configured.
func CheckBootstrapToken(token string) error {
	if len(token) < MinBootstrapToken {
		return fmt.Errorf("must be at least %d characters", MinBootstrapToken)
	}
	for _, c := range []byte(token) {
		if c <= ' ' || c >= 0x7f {
			return errors.New("must be visible ASCII characters only, without spaces or control characters")
		}
	}
	return nil
}

// Bootstrapped says what a bootstrap did.
type Bootstrapped struct {
	Created bool // false: the database had users, nothing was made
	Email   string
	// Password is the generated password, shown once: the admin logs in
	// to the web UI with it. Token is the generated integration token,
	// shown once; empty when it was configured (POSTBODE_BOOTSTRAP_TOKEN).
	Password string
	Token    string
}

// Bootstrap creates the first admin on an empty database, with a random
// password and its integration token, in one transaction: a failure leaves
// no admin without a token. With token set it becomes the admin's token;
// otherwise a random one is made. The caller shows what was made, once.
func Bootstrap(ctx context.Context, st store.Store, token string, now time.Time) (*Bootstrapped, error) {
	out := &Bootstrapped{Email: BootstrapEmail, Password: NewPassword()}
	if token == "" {
		out.Token = NewToken(store.TokenIntegration)
		token = out.Token
	} else if err := CheckBootstrapToken(token); err != nil {
		return nil, fmt.Errorf("POSTBODE_BOOTSTRAP_TOKEN %w", err)
	}
	pwHash, err := HashPassword(out.Password)
	if err != nil {
		return nil, err
	}
	now = now.UTC().Truncate(time.Microsecond)
	err = st.InTx(ctx, func(tx store.Tx) error {
		n, err := tx.CountUsers(ctx)
		if err != nil || n > 0 {
			return err
		}
		u := &store.User{ID: id.New(id.User), Email: BootstrapEmail, Name: "Admin", Role: store.RoleAdmin,
			PasswordHash: pwHash, Status: store.UserActive, CreatedAt: now}
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		out.Created = true
		return tx.CreateToken(ctx, &store.Token{ID: id.New(id.Token), UserID: u.ID, Kind: store.TokenIntegration,
			Name: "bootstrap", Hash: HashToken(token), CreatedAt: now})
	})
	if errors.Is(err, store.ErrConflict) {
		// Another node bootstrapped first.
		return &Bootstrapped{Email: BootstrapEmail}, nil
	}
	if err != nil || !out.Created {
		return &Bootstrapped{Email: BootstrapEmail}, err
	}
	return out, nil
}
