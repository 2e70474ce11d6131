//! Access tokens: who may read context and layers, and who may import and
//! activate layers.
//!
//! The config file lists each token as `[[token]]` with a `name`, its
//! `roles` and the SHA-256 of the token (`sha256`), so the file never contains
//! a token itself. Clients send `Authorization: Bearer <token>`. The service
//! hashes the token and compares the hash with every configured hash in
//! constant time.
//!
//! ```toml
//! open_reads = false
//!
//! [[token]]
//! name = "gis-team"
//! roles = ["read", "gis"]
//! sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//! ```

mod http;

use std::fmt;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use http::{RequireGis, require_read};

/// The caller name recorded when a read is allowed without a token.
pub const ANONYMOUS: &str = "anonymous";

/// A permission granted to a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Context, layer lists and tiles.
    Read,
    /// Importing and activating layer versions.
    Gis,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Gis => "gis",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `[[token]]` entry of the config file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Recorded as the author of imports and activations.
    pub name: String,
    pub roles: Vec<Role>,
    /// SHA-256 of the token, 64 hex digits (`repere token hash` prints it).
    pub sha256: String,
}

/// A configured token that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenConfigError {
    #[error(
        "token {name:?}: sha256 {value:?} is not 64 hex digits: set it to the output of \
         `repere token hash` or `printf %s TOKEN | sha256sum`"
    )]
    InvalidHash { name: String, value: String },
    #[error("token name {name:?} is used twice: give each [[token]] its own name")]
    DuplicateName { name: String },
    #[error("token {name:?} has no roles: set roles = [\"read\"], [\"gis\"] or both")]
    NoRoles { name: String },
}

/// A reason a request is not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error(
        "this route needs a token with role {role}, and the service has no token configured: \
         add a [[token]] with roles = [\"{role}\"] to the config file"
    )]
    NoTokens { role: Role },
    #[error("missing Authorization header: send `Authorization: Bearer <token>`")]
    Missing,
    #[error("invalid Authorization header: expected `Bearer <token>`")]
    Malformed,
    #[error("the bearer token matches no configured token: check the token or ask for one")]
    Unknown,
    #[error("token {name:?} lacks role {role}: add \"{role}\" to its roles in the config file")]
    Forbidden { name: String, role: Role },
}

/// The caller of an allowed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name, or [`ANONYMOUS`] for an open read.
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
struct Token {
    name: String,
    roles: Vec<Role>,
    hash: [u8; 32],
}

/// The configured tokens and whether reads need one.
#[derive(Debug, Clone, PartialEq)]
pub struct Access {
    tokens: Vec<Token>,
    open_reads: bool,
}

impl Default for Access {
    /// No tokens: reads are open, and routes with role `gis` return 401.
    fn default() -> Self {
        Access {
            tokens: Vec::new(),
            open_reads: true,
        }
    }
}

impl Access {
    /// Checks the configured tokens. `open_reads` defaults to true when no
    /// token is configured and false otherwise.
    pub fn new(
        configs: &[TokenConfig],
        open_reads: Option<bool>,
    ) -> Result<Self, TokenConfigError> {
        let mut tokens: Vec<Token> = Vec::with_capacity(configs.len());
        for config in configs {
            if tokens.iter().any(|t| t.name == config.name) {
                return Err(TokenConfigError::DuplicateName {
                    name: config.name.clone(),
                });
            }
            tokens.push(Token::from_config(config)?);
        }
        let open_reads = open_reads.unwrap_or(tokens.is_empty());
        Ok(Access { tokens, open_reads })
    }

    /// Checks the `Authorization` header value of a request against `role`.
    pub fn authorize(&self, header: Option<&[u8]>, role: Role) -> Result<Caller, AuthError> {
        if role == Role::Read && self.open_reads {
            return Ok(Caller {
                name: ANONYMOUS.to_owned(),
            });
        }
        if self.tokens.is_empty() {
            return Err(AuthError::NoTokens { role });
        }
        let token = bearer_token(header.ok_or(AuthError::Missing)?)?;
        let found = self.find(token).ok_or(AuthError::Unknown)?;
        if !found.roles.contains(&role) {
            return Err(AuthError::Forbidden {
                name: found.name.clone(),
                role,
            });
        }
        Ok(Caller {
            name: found.name.clone(),
        })
    }

    /// Compares the token's hash with every configured hash, without
    /// stopping at a match, so the time taken does not depend on which
    /// entry matched or how many leading bytes agreed.
    fn find(&self, token: &[u8]) -> Option<&Token> {
        let hash: [u8; 32] = Sha256::digest(token).into();
        let mut found = None;
        for candidate in &self.tokens {
            if bool::from(candidate.hash.ct_eq(&hash)) {
                found = Some(candidate);
            }
        }
        found
    }
}

impl Token {
    fn from_config(config: &TokenConfig) -> Result<Self, TokenConfigError> {
        if config.roles.is_empty() {
            return Err(TokenConfigError::NoRoles {
                name: config.name.clone(),
            });
        }
        let hash = parse_sha256(&config.sha256).ok_or_else(|| TokenConfigError::InvalidHash {
            name: config.name.clone(),
            value: config.sha256.clone(),
        })?;
        Ok(Token {
            name: config.name.clone(),
            roles: config.roles.clone(),
            hash,
        })
    }
}

/// Extracts the token of a `Bearer` header value; the scheme is case-insensitive.
fn bearer_token(header: &[u8]) -> Result<&[u8], AuthError> {
    let (scheme, token) = match header.iter().position(|&b| b == b' ') {
        Some(space) => (&header[..space], header[space + 1..].trim_ascii()),
        None => return Err(AuthError::Malformed),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") || token.is_empty() {
        return Err(AuthError::Malformed);
    }
    Ok(token)
}

fn parse_sha256(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 {
        return None;
    }
    let mut hash = [0u8; 32];
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(hash)
}

/// Returns the SHA-256 of a token in lowercase hex, the `sha256` value of
/// its `[[token]]` entry. Surrounding white space, such as the newline of
/// `echo`, is not part of the token.
pub fn hash_token(token: &str) -> String {
    format!("{:x}", Sha256::digest(token.trim().as_bytes()))
}

/// Generates a random token: 64 hex digits from two version 4 UUIDs, 244
/// random bits.
pub fn generate_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `printf %s secret | sha256sum`
    const SECRET_SHA256: &str = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";

    fn access(roles: Vec<Role>) -> Access {
        let config = TokenConfig {
            name: "team".to_owned(),
            roles,
            sha256: SECRET_SHA256.to_owned(),
        };
        Access::new(&[config], None).unwrap()
    }

    #[test]
    fn hash_matches_sha256sum() {
        assert_eq!(hash_token("secret\n"), SECRET_SHA256);
    }

    #[test]
    fn gis_role_allows_gis() {
        let caller = access(vec![Role::Gis]).authorize(Some(b"Bearer secret"), Role::Gis);
        assert_eq!(caller.unwrap().name, "team");
    }

    #[test]
    fn read_role_forbidden_gis() {
        let err = access(vec![Role::Read])
            .authorize(Some(b"bearer secret"), Role::Gis)
            .unwrap_err();
        assert!(matches!(err, AuthError::Forbidden { .. }), "{err}");
    }

    #[test]
    fn unknown_and_malformed_tokens() {
        let access = access(vec![Role::Gis]);
        let unknown = access.authorize(Some(b"Bearer other"), Role::Gis);
        assert_eq!(unknown.unwrap_err(), AuthError::Unknown);
        let basic = access.authorize(Some(b"Basic c2VjcmV0"), Role::Gis);
        assert_eq!(basic.unwrap_err(), AuthError::Malformed);
        let empty = access.authorize(Some(b"Bearer "), Role::Gis);
        assert_eq!(empty.unwrap_err(), AuthError::Malformed);
        assert_eq!(
            access.authorize(None, Role::Gis).unwrap_err(),
            AuthError::Missing
        );
    }

    #[test]
    fn reads_closed_once_tokens_exist() {
        let err = access(vec![Role::Gis])
            .authorize(None, Role::Read)
            .unwrap_err();
        assert_eq!(err, AuthError::Missing);
    }

    #[test]
    fn default_opens_reads_only() {
        let access = Access::default();
        assert_eq!(access.authorize(None, Role::Read).unwrap().name, ANONYMOUS);
        let err = access
            .authorize(Some(b"Bearer secret"), Role::Gis)
            .unwrap_err();
        assert_eq!(err, AuthError::NoTokens { role: Role::Gis });
    }

    #[test]
    fn bad_hash_rejected() {
        let config = TokenConfig {
            name: "team".to_owned(),
            roles: vec![Role::Gis],
            sha256: "abc".to_owned(),
        };
        let err = Access::new(&[config], None).unwrap_err();
        assert!(err.to_string().contains("\"abc\""), "{err}");
    }
}
