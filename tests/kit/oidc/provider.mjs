// A real OIDC/OAuth2 provider for score-server's tests (npm oidc-provider), on 127.0.0.1 only.
//   node provider.mjs PORT KID [ACCESS_TOKEN_TTL_SECONDS]
// client_credentials gives RS256 JWT access tokens (aud "score") signed with a fresh key whose
// kid is KID (restart with another KID to rotate keys); resource "urn:score-apikey" gets opaque
// tokens instead, for introspection (/token/introspection) and revocation (/token/revocation).
// Client "svc" may ask for any of SCOPES. Client "cli" is public and signs users in by the device
// flow (RFC 8628) with refresh tokens; the provider's development login pages accept any user name,
// so a test can play the user with plain HTTP form posts.
import Provider from 'oidc-provider';
import { generateKeyPairSync } from 'node:crypto';

const port = Number(process.argv[2]);
const kid = process.argv[3] || 'k1';
const accessTTL = Number(process.argv[4] || 300);
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };
const SCOPES = ['score.READ', 'score.WRITE', 'PROGRAMDATA-ABC.READ', 'PROGRAMDATA-ABC.WRITE',
                'PROGRAMDATA-XYZ.READ', 'PROGRAMDATA-XYZ.WRITE'];

const provider = new Provider(issuer, {
  jwks: { keys: [jwk] },
  clients: [
    { client_id: 'svc', client_secret: 'svc-secret', grant_types: ['client_credentials'],
      redirect_uris: [], response_types: [], scope: SCOPES.join(' ') },
    { client_id: 'cli', token_endpoint_auth_method: 'none', redirect_uris: [], response_types: [],
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      scope: ['openid', 'offline_access', ...SCOPES].join(' ') },
  ],
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  scopes: ['openid', 'offline_access', ...SCOPES],
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:score',
      useGrantedResource: () => true,
      // "urn:score" gets RS256 JWTs; "urn:score-apikey" gets opaque tokens (API keys, checked by introspection)
      getResourceServerInfo: (ctx, resource) => (resource === 'urn:score-apikey'
        ? { scope: SCOPES.join(' '), audience: 'score', accessTokenTTL: accessTTL, accessTokenFormat: 'opaque' }
        : { scope: SCOPES.join(' '), audience: 'score', accessTokenTTL: accessTTL, accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } } }),
    },
  },
});
provider.proxy = false;
provider.listen(port, '127.0.0.1', () => console.log(`oidc-provider listening on ${issuer}`));
