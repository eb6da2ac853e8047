/* fleet/keys.h - the fleet's two kinds of key pair: the admin's Ed25519 signing key and
 * each member host's X25519 key.
 *
 * Both private halves are 32 bytes written as one line of base64 in a 0600 file, read and
 * written as crypto/key.h reads and writes the vault key (O_NOFOLLOW, a file group or
 * others may read is refused, atomic write): the admin file holds the Ed25519 seed, the
 * host file the X25519 secret scalar. They live in sodium_malloc() memory and are wiped
 * on release. Public halves are 32 bytes shown as base64 (44 characters), the text that
 * `fleet init` and `fleet host-key` print and that `fleet add-host` and the member's
 * [fleet] admin_public_key take. */
#ifndef CS_FLEET_KEYS_H
#define CS_FLEET_KEYS_H

#include <stddef.h>

#include <sodium.h>

#include "../crypto/err.h"

#define FLEET_PUB_BYTES		32	/* Ed25519 and X25519 public keys alike */
#define FLEET_PUB_B64		45	/* bytes of its base64 text, with the NUL */
/* The name of the host key in $CREDENTIALS_DIRECTORY (systemd LoadCredential=,
 * LoadCredentialEncrypted=), preferred over the configured file when present. */
#define FLEET_HOST_CREDENTIAL	"comfysecrets-fleet-host-key"

/* The admin's signing key; sk is libsodium's 64-byte secret key (seed and public key). */
struct fleet_signer {
	unsigned char	sk[crypto_sign_SECRETKEYBYTES];
	unsigned char	pk[crypto_sign_PUBLICKEYBYTES];
};

/* A member's X25519 key pair. */
struct fleet_hostkey {
	unsigned char	sk[crypto_box_SECRETKEYBYTES];
	unsigned char	pk[crypto_box_PUBLICKEYBYTES];
};

/* Makes a new signing key and writes its seed to path (0600, refusing to replace a
 * file: EEXIST). pub gets the public key as base64. */
int	fleet_signer_create(const char *path, char pub[FLEET_PUB_B64], struct cs_err *e)
	    CS_WUR;
/* Reads the signing key at path. Caller frees with fleet_signer_free(). */
int	fleet_signer_load(const char *path, struct fleet_signer **out, struct cs_err *e)
	    CS_WUR;
void	fleet_signer_free(struct fleet_signer *s);	/* NULL is fine; wipes */

/* Makes a new host key at path as fleet_signer_create() does. */
int	fleet_hostkey_create(const char *path, char pub[FLEET_PUB_B64], struct cs_err *e)
	    CS_WUR;
/* Reads the host key: $CREDENTIALS_DIRECTORY/FLEET_HOST_CREDENTIAL when that variable is
 * set and the file exists, else path. *from (may be NULL) gets the file used (static
 * storage until the next call). Caller frees with fleet_hostkey_free(). */
int	fleet_hostkey_load(const char *path, struct fleet_hostkey **out, const char **from,
	    struct cs_err *e) CS_WUR;
void	fleet_hostkey_free(struct fleet_hostkey *k);	/* NULL is fine; wipes */

/* base64 text of a public key into out. */
void	fleet_pub_text(const unsigned char pk[FLEET_PUB_BYTES], char out[FLEET_PUB_B64]);
/* Parses a public key written as base64 (exactly 32 bytes, nothing else); what names
 * its source in the message (EINVAL). */
int	fleet_pub_parse(const char *text, const char *what, unsigned char pk[FLEET_PUB_BYTES],
	    struct cs_err *e) CS_WUR;

#endif
