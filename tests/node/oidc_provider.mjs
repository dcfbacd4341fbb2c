// A real OpenID Connect provider for the test suite (the npm `oidc-provider`), on loopback.
//
// Started by tests/e2e/oidc.py with: PORT, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, and ACCOUNTS,
// a JSON file {login: {claims}} read at every lookup, so a test changes someone's groups
// between two logins by rewriting it. The development login page accepts any login name with
// any password; a name missing from ACCOUNTS has no account. One confidential client, PKCE
// required; it consents to every scope it asks for (a first-party client: no consent page).
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const { PORT, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, ACCOUNTS } = process.env;

function accountData(id) {
  return JSON.parse(readFileSync(ACCOUNTS, 'utf8'))[id];
}

const provider = new Provider(`http://127.0.0.1:${PORT}`, {
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['preferred_username', 'name', 'given_name', 'family_name'],
    groups: ['groups'],
  },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['a-key-for-tests-only'] },
  async findAccount(ctx, id) {
    const data = accountData(id);
    if (!data) return undefined;
    return { accountId: id, claims: async () => ({ ...accountData(id), sub: id }) };
  },
  async loadExistingGrant(ctx) {
    const { Grant } = ctx.oidc.provider;
    const known = ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    const grant = (known && (await Grant.find(known)))
      || new Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(ctx.oidc.params.scope);
    await grant.save();
    return grant;
  },
});

provider.listen(Number(PORT), '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${PORT}`);
});
