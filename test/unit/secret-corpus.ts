// A corpus of realistic secrets: one file per kind, shaped as people really leave them (the file's name, its
// format, the text around the value), with every secret value drawn at random when the corpus is made. Nothing
// here is a real credential, and this file holds no literal one either: provider prefixes are split ('gh' + 'p_')
// so that this source does not itself look like it holds a key.
//
// The kinds follow where secrets sit in practice, after gitleaks' and detect-secrets' rule sets: provider tokens,
// private keys, connection strings, config formats with keyword-named values, headers in code, notebooks.
import { randomBytes, randomInt } from 'node:crypto';

export interface SecretKind {
  /** What the file holds, as a reader would name it. */
  kind: string;
  path: string;
  text: string;
  /** Each random value in the file: none may reach the context. */
  values: string[];
}

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = LOWER.toUpperCase();
const DIGITS = '0123456789';
const ALNUM = LOWER + UPPER + DIGITS;

function pick(alphabet: string, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[randomInt(alphabet.length)];
  return s;
}
const alnum = (n: number): string => pick(ALNUM, n);
/** A generated password with no symbols (for URLs and connection strings): every class present, as generators do. */
const alnumPassword = (n: number): string => pick(LOWER, 1) + pick(UPPER, 1) + pick(DIGITS, 1) + alnum(n - 3);
const hex = (n: number): string => pick('0123456789abcdef', n);
const lowerAlnum = (n: number): string => pick(LOWER + DIGITS, n);
const b64 = (bytes: number): string => randomBytes(bytes).toString('base64');
const b64url = (bytes: number): string => randomBytes(bytes).toString('base64url');

/**
 * A password as a generator or a careful person makes one: 16 characters, every class present. It starts with a
 * letter, as it must to stand unquoted in YAML (where `#`, `!`, `%`, `*` and `&` open a comment, tag or alias).
 */
function password(): string {
  const body = pick(LOWER, 4) + pick(UPPER, 4) + pick(DIGITS, 4) + pick('!#%^*-_+.', 3);
  const shuffled = [...body].sort(() => randomInt(3) - 1).join('');
  return pick(LOWER + UPPER, 1) + shuffled;
}

/** An AWS secret access key: 40 characters of base64, which may well end in '/' or '+'. */
const awsSecret = (end = ''): string => b64(30).slice(0, 40 - end.length) + end;
const awsKeyId = (): string => 'AK' + 'IA' + pick(UPPER + '234567', 16);

/** A PEM private key block with a random body (not a valid key: the shape is what a scanner sees). */
function pem(label: string): string {
  const body = b64(600)
    .match(/.{1,64}/g)!
    .join('\n');
  return [`-----BEGIN ${label}-----`, body, `-----END ${label}-----`].join('\n');
}
const RSA = 'RSA PRIV' + 'ATE KEY';
const PLAIN = 'PRIV' + 'ATE KEY';
const OPENSSH = 'OPENSSH PRIV' + 'ATE KEY';
const EC = 'EC PRIV' + 'ATE KEY';

function jwt(): string {
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const claims = { sub: String(randomInt(1e6, 1e7)), iat: 1_700_000_000 + randomInt(1e7), role: 'admin', sid: hex(16) };
  return `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${b64url(32)}`;
}

function kind(kind: string, path: string, values: string[], text: string): SecretKind {
  return { kind, path, text, values };
}

/** A fresh corpus: new random values on every call. */
export function secretCorpus(): SecretKind[] {
  const out: SecretKind[] = [];
  const add = (k: SecretKind): void => void out.push(k);

  // ------------------------------------------------------------------ files that are secrets by their name
  {
    const v = password();
    add(kind('.env file', '.env', [v], `NODE_ENV=production\nPORT=3000\nDATABASE_PASSWORD=${v}\n`));
  }
  {
    const v = alnum(32);
    add(kind('.env.production', '.env.production', [v], `APP_URL=https://example.com\nAPP_SECRET=${v}\n`));
  }
  {
    const v = pem(OPENSSH);
    add(kind('SSH private key (id_ed25519)', 'keys/id_ed25519', [v.split('\n')[2]!], v + '\n'));
  }
  {
    const v = pem(RSA);
    add(kind('TLS private key (.key)', 'deploy/tls/server.key', [v.split('\n')[2]!], v + '\n'));
  }
  {
    const v = password();
    add(kind('.pgpass', '.pgpass', [v], `db.internal:5432:app:app_user:${v}\n`));
  }
  {
    const v = password();
    add(kind('.netrc', 'home/.netrc', [v], `machine api.example.com\n  login deploy\n  password ${v}\n`));
  }
  {
    const v = alnum(40);
    add(kind('.git-credentials', '.git-credentials', [v], `https://deploy:${v}@git.example.com\n`));
  }
  {
    const id = awsKeyId();
    const s = awsSecret();
    add(kind('~/.aws/credentials', '.aws/credentials', [id, s], `[default]\naws_access_key_id = ${id}\naws_secret_access_key = ${s}\n`));
  }
  {
    const v = password();
    add(
      kind(
        'terraform.tfstate',
        'infra/terraform.tfstate',
        [v],
        JSON.stringify({ version: 4, resources: [{ type: 'aws_db_instance', instances: [{ attributes: { password: v } }] }] }, null, 2),
      ),
    );
  }
  {
    const v = password();
    add(
      kind(
        '.pypirc',
        '.pypirc',
        [v],
        `[distutils]\nindex-servers = internal\n\n[internal]\nrepository = https://pypi.example.com\nusername = ci\npassword = ${v}\n`,
      ),
    );
  }
  {
    const v = `$apr1$${lowerAlnum(8)}$${b64(16).slice(0, 22)}`;
    add(kind('.htpasswd', 'web/.htpasswd', [v], `admin:${v}\n`));
  }
  {
    const v = b64(24);
    add(
      kind(
        '~/.docker/config.json',
        '.docker/config.json',
        [v],
        JSON.stringify({ auths: { 'registry.example.com': { auth: v } } }, null, 2),
      ),
    );
  }
  {
    const v = alnum(24);
    add(kind('.s3cfg', 'ops/.s3cfg', [v], `[default]\naccess_key = ${awsKeyId()}\nsecret_key = ${v}\nhost_base = s3.example.com\n`));
  }

  // ------------------------------------------------------------------------------------ provider tokens in code
  {
    const v = 'gh' + 'p_' + alnum(36);
    add(kind('GitHub personal access token', 'scripts/release.js', [v], `const octokit = new Octokit({ auth: '${v}' });\n`));
  }
  {
    const v = 'github' + '_pat_' + alnum(22) + '_' + alnum(59);
    add(
      kind(
        'GitHub fine-grained token',
        '.github/workflows/sync.yml',
        [v],
        `jobs:\n  sync:\n    steps:\n      - run: ./sync.sh\n        env:\n          GH_TOKEN: ${v}\n`,
      ),
    );
  }
  {
    const v = 'glp' + 'at-' + b64url(15).slice(0, 20);
    add(kind('GitLab token', 'ci/mirror.sh', [v], `#!/bin/sh\ngit push https://oauth2:${v}@gitlab.example.com/team/app.git\n`));
  }
  {
    const v = 'xox' + `b-${randomInt(1, 10)}${pick(DIGITS, 11)}-${randomInt(1, 10)}${pick(DIGITS, 11)}-${alnum(24)}`;
    add(kind('Slack bot token', 'bot/app.py', [v], `from slack_sdk import WebClient\nclient = WebClient(token="${v}")\n`));
  }
  {
    const v = `https://hooks.slack.com/services/T${pick(UPPER + DIGITS, 8)}/B${pick(UPPER + DIGITS, 10)}/${alnum(24)}`;
    add(kind('Slack webhook URL', 'alerts/notify.ts', [v], `export const WEBHOOK = '${v}';\n`));
  }
  {
    const v = 'sk' + '_live_' + alnum(99);
    add(kind('Stripe secret key', 'billing/stripe.rb', [v], `Stripe.api_key = '${v}'\n`));
  }
  {
    const v = 'SG' + '.' + b64url(16).slice(0, 22) + '.' + b64url(32).slice(0, 43);
    add(kind('SendGrid API key', 'mail/send.php', [v], `<?php\n$sendgrid = new \\SendGrid('${v}');\n`));
  }
  {
    const v = 'sk-' + 'proj-' + b64url(56).slice(0, 74) + 'T3Bl' + 'bkFJ' + b64url(56).slice(0, 74);
    add(kind('OpenAI API key', 'ai/client.py', [v], `import openai\nopenai.api_key = "${v}"\n`));
  }
  {
    const v = 'sk-' + 'ant-api03-' + b64url(70).slice(0, 93) + 'AA';
    add(kind('Anthropic API key', 'ai/claude.ts', [v], `const anthropic = new Anthropic({ apiKey: "${v}" });\n`));
  }
  {
    const v = 'h' + 'f_' + pick(LOWER + UPPER, 34);
    add(kind('Hugging Face token', 'train/upload.py', [v], `from huggingface_hub import login\nlogin("${v}")\n`));
  }
  {
    const v = 'np' + 'm_' + alnum(36);
    add(kind('npm token in .npmrc', 'web/.npmrc', [v], `//registry.npmjs.org/:_authToken=${v}\n`));
  }
  {
    const v = 'AI' + 'za' + b64url(27).slice(0, 35);
    add(kind('Google API key', 'web/maps.js', [v], `const map = new Map({ key: "${v}" });\n`));
  }
  {
    const v = `${'M'}${alnum(25)}.${b64url(6).slice(0, 6)}.${b64url(30).slice(0, 38)}`;
    add(
      kind(
        'Discord bot token',
        'bot/index.js',
        [v],
        `const { Client } = require('discord.js');\nconst client = new Client();\nclient.login('${v}');\n`,
      ),
    );
  }
  {
    const v = `https://discord.com/api/webhooks/${randomInt(1, 10)}${pick(DIGITS, 18)}/${b64url(51).slice(0, 68)}`;
    add(kind('Discord webhook URL', 'ops/notify.py', [v], `requests.post("${v}", json={"content": msg})\n`));
  }
  {
    const v = `${randomInt(1, 10)}${pick(DIGITS, 9)}:AA${b64url(25).slice(0, 33)}`;
    add(kind('Telegram bot token', 'bot/telegram.py', [v], `from telegram.ext import Updater\nupdater = Updater("${v}")\n`));
  }
  {
    const sid = 'A' + 'C' + hex(32);
    const tok = hex(32);
    add(
      kind(
        'Twilio account SID and auth token',
        'sms/send.js',
        [tok],
        `const twilio = require('twilio');\nconst client = twilio('${sid}', '${tok}');\n`,
      ),
    );
  }
  {
    const key = 'S' + 'K' + hex(32);
    const secret = alnum(32);
    add(kind('Twilio API key and secret', 'sms/config.py', [key, secret], `TWILIO_API_KEY = "${key}"\nTWILIO_API_SECRET = "${secret}"\n`));
  }
  {
    const v = 'key-' + hex(32);
    add(kind('Mailgun API key', 'mail/mailgun.go', [v], `package mail\n\nvar mg = mailgun.NewMailgun("mg.example.com", "${v}")\n`));
  }
  {
    const v = `${hex(32)}-us${randomInt(1, 21)}`;
    add(kind('Mailchimp API key', 'newsletter/client.rb', [v], `Gibbon::Request.new(api_key: "${v}")\n`));
  }
  {
    const v = 'pypi-' + 'AgEIcHlwaS5vcmc' + b64url(60);
    add(kind('PyPI upload token', 'release/upload.sh', [v], `twine upload -u __token__ -p ${v} dist/*\n`));
  }
  {
    const v = 'hv' + 's.' + b64url(68).slice(0, 90);
    add(kind('HashiCorp Vault token', 'deploy/vault.sh', [v], `export VAULT_ADDR=https://vault.example.com\nvault login ${v}\n`));
  }
  {
    const v = `${lowerAlnum(14)}.atlas` + `v1.${lowerAlnum(67)}`;
    add(
      kind(
        'Terraform Cloud credentials',
        'ci/credentials.tfrc.json',
        [v],
        JSON.stringify({ credentials: { 'app.terraform.io': { token: v } } }, null, 2),
      ),
    );
  }
  {
    const v = 'AGE-SECRET-' + 'KEY-1' + pick('QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L', 58);
    add(
      kind('age secret key', 'secrets/identity.txt', [v], `# created: 2024-01-01T00:00:00Z\n# public key: age1${lowerAlnum(58)}\n${v}\n`),
    );
  }
  {
    const v = 'shp' + 'at_' + hex(32);
    add(kind('Shopify access token', 'shop/sync.ts', [v], `const shopify = new Shopify({ shopName: 'demo', accessToken: '${v}' });\n`));
  }
  {
    const v = 'NR' + 'AK-' + pick(UPPER + DIGITS, 27);
    add(kind('New Relic user key', 'monitoring/newrelic.js', [v], `module.exports = { apiKey: '${v}' };\n`));
  }
  {
    const v = 'dapi' + hex(32);
    add(kind('Databricks token', 'jobs/run.py', [v], `w = WorkspaceClient(host="https://adb.example.net", token="${v}")\n`));
  }

  // ------------------------------------------------------------------------------------------------ cloud keys
  {
    const id = awsKeyId();
    const s = awsSecret();
    add(
      kind(
        'AWS key id and secret in code',
        'src/s3.js',
        [id, s],
        `const s3 = new S3Client({ credentials: { accessKeyId: '${id}', secretAccessKey: '${s}' } });\n`,
      ),
    );
  }
  {
    const s = awsSecret('/');
    add(
      kind(
        'AWS secret key alone, ending in /',
        'deploy/env.sh',
        [s],
        `export AWS_DEFAULT_REGION=eu-west-1\nexport AWS_SECRET_ACCESS_KEY=${s}\n`,
      ),
    );
  }
  {
    const s = awsSecret('+');
    add(
      kind(
        'AWS secret key alone, ending in +, in YAML',
        'config/storage.yml',
        [s],
        `amazon:\n  service: S3\n  region: us-east-1\n  secret_access_key: ${s}\n  bucket: uploads\n`,
      ),
    );
  }
  {
    const v = b64(64);
    add(
      kind(
        'Azure storage connection string',
        'src/Storage.cs',
        [v],
        `var client = new BlobServiceClient("DefaultEndpointsProtocol=https;AccountName=appstore;AccountKey=${v};EndpointSuffix=core.windows.net");\n`,
      ),
    );
  }
  {
    const v = b64(32);
    add(
      kind(
        'Azure Service Bus SAS key in appsettings.json',
        'Api/appsettings.json',
        [v],
        JSON.stringify(
          {
            ServiceBus: {
              ConnectionString: `Endpoint=sb://app.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${v}`,
            },
          },
          null,
          2,
        ),
      ),
    );
  }
  {
    const v = alnum(3) + '8Q~' + b64url(30).slice(0, 34);
    add(
      kind(
        'Azure AD client secret',
        'Api/appsettings.Production.json',
        [v],
        JSON.stringify({ AzureAd: { TenantId: hex(8), ClientId: hex(8), ClientSecret: v } }, null, 2),
      ),
    );
  }
  {
    const key = pem(PLAIN).replace(/\n/g, '\\n');
    const body = key.split('\\n')[2]!;
    add(
      kind(
        'GCP service account key',
        'deploy/gcp-sa.json',
        [body],
        `{\n  "type": "service_account",\n  "project_id": "app-prod",\n  "private_key_id": "${hex(40)}",\n  "private_key": "${key}\\n",\n  "client_email": "ci@app-prod.iam.gserviceaccount.com"\n}\n`,
      ),
    );
  }

  // ------------------------------------------------------------------------------------------- private keys
  {
    const v = pem(EC);
    add(kind('EC private key inline in Go', 'internal/sign/key.go', [v.split('\n')[2]!], `package sign\n\nconst signingKey = \`${v}\`\n`));
  }
  {
    const v = pem('PGP PRIV' + 'ATE KEY BLOCK');
    add(kind('PGP private key block', 'release/signing.asc', [v.split('\n')[2]!], v + '\n'));
  }
  {
    const v = Buffer.from(pem(RSA) + '\n').toString('base64');
    add(kind('base64-encoded PEM key in .env-style file', 'deploy/app.env', [v.slice(40, 100)], `JWT_PRIVATE_KEY_B64=${v}\n`));
  }
  {
    const v = Buffer.from(pem(PLAIN) + '\n').toString('base64');
    add(
      kind(
        'base64-encoded PEM key in a Helm values file',
        'charts/app/values-prod.yaml',
        [v.slice(40, 100)],
        `image:\n  tag: 1.4.2\nsigning:\n  key: ${v}\n`,
      ),
    );
  }
  {
    const v = pem(OPENSSH);
    const indented = v
      .split('\n')
      .map((l) => '    ' + l)
      .join('\n');
    add(
      kind(
        'SSH key in Ansible vars',
        'ansible/group_vars/all.yml',
        [v.split('\n')[2]!],
        `deploy_user: deploy\ndeploy_ssh_key: |\n${indented}\n`,
      ),
    );
  }

  // ----------------------------------------------------------------------------------- URLs with passwords
  {
    const v = alnumPassword(16);
    add(kind('PostgreSQL URL', 'app/db.py', [v], `engine = create_engine("postgresql://app:${v}@db.internal:5432/app")\n`));
  }
  {
    const v = alnumPassword(16);
    add(kind('MySQL URL in .properties', 'src/main/resources/db.properties', [v], `db.url=mysql://root:${v}@10.0.0.5:3306/shop\n`));
  }
  {
    const v = alnumPassword(20);
    add(
      kind(
        'MongoDB SRV URL',
        'server/config.js',
        [v],
        `module.exports = { mongo: 'mongodb+srv://api:${v}@cluster0.abcde.mongodb.net/prod' };\n`,
      ),
    );
  }
  {
    const v = alnumPassword(24);
    add(kind('Redis URL with password', 'worker/settings.py', [v], `CELERY_BROKER_URL = "redis://:${v}@redis.internal:6379/0"\n`));
  }
  {
    const v = alnumPassword(18);
    add(kind('AMQP URL with password', 'config/queue.yml', [v], `queue:\n  url: amqp://orders:${v}@rabbit.internal:5672/prod\n`));
  }
  {
    const v = alnumPassword(20);
    add(
      kind(
        'HTTPS URL with basic auth',
        'requirements.txt',
        [v],
        `--extra-index-url https://ci:${v}@pypi.example.com/simple\nrequests==2.31.0\n`,
      ),
    );
  }
  {
    const v = alnumPassword(16);
    add(
      kind(
        'JDBC URL with password parameter',
        'src/main/resources/application.properties',
        [v],
        `spring.datasource.url=jdbc:mysql://db:3306/shop?user=shop&password=${v}\n`,
      ),
    );
  }
  {
    const v = password().replace(/[;"]/g, 'x');
    add(
      kind(
        'SQL Server connection string in web.config',
        'Web/Web.config',
        [v],
        `<?xml version="1.0"?>\n<configuration>\n  <connectionStrings>\n    <add name="Default" connectionString="Server=sql01;Database=Shop;User Id=shop;Password=${v};" providerName="System.Data.SqlClient" />\n  </connectionStrings>\n</configuration>\n`,
      ),
    );
  }

  // ------------------------------------------------------------------------------------------- Kubernetes
  {
    const key = Buffer.from(pem(RSA)).toString('base64');
    const token = jwt();
    add(
      kind(
        'kubeconfig with client key and token',
        'cluster/admin.conf',
        [key.slice(40, 100), token],
        `apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: ${b64(300)}\n    server: https://10.0.0.1:6443\n  name: prod\ncontexts:\n- context:\n    cluster: prod\n    user: admin\n  name: prod\ncurrent-context: prod\nusers:\n- name: admin\n  user:\n    client-certificate-data: ${b64(300)}\n    client-key-data: ${key}\n- name: ci\n  user:\n    token: ${token}\n`,
      ),
    );
  }
  {
    const token = `${lowerAlnum(6)}.${lowerAlnum(16)}`;
    add(
      kind(
        'kubeconfig with a bootstrap token',
        'deploy/kubeconfig.yaml',
        [token],
        `apiVersion: v1\nkind: Config\nusers:\n- name: bootstrap\n  user:\n    token: ${token}\nclusters:\n- name: edge\n  cluster:\n    server: https://edge.example.com:6443\n`,
      ),
    );
  }
  {
    const user = Buffer.from('admin').toString('base64');
    const pass = Buffer.from(password()).toString('base64');
    add(
      kind(
        'Kubernetes Secret manifest (data)',
        'k8s/db-secret.yaml',
        [pass],
        `apiVersion: v1\nkind: Secret\nmetadata:\n  name: db-credentials\ntype: Opaque\ndata:\n  username: ${user}\n  password: ${pass}\n`,
      ),
    );
  }
  {
    const v = alnum(32);
    add(
      kind(
        'Kubernetes Secret manifest (stringData)',
        'k8s/api.yaml',
        [v],
        `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: api-keys\nstringData:\n  STRIPE_KEY: ${v}\n`,
      ),
    );
  }
  {
    const auth = Buffer.from(`deploy:${password()}`).toString('base64');
    add(
      kind('Docker auths outside .docker/', 'ci/docker-config.json', [auth], JSON.stringify({ auths: { 'ghcr.io': { auth } } }, null, 2)),
    );
  }
  {
    const cfg = Buffer.from(
      JSON.stringify({ auths: { 'registry.example.com': { auth: Buffer.from(`ci:${password()}`).toString('base64') } } }),
    ).toString('base64');
    add(
      kind(
        'Kubernetes image pull secret',
        'k8s/pull-secret.yml',
        [cfg.slice(0, 60)],
        `apiVersion: v1\nkind: Secret\nmetadata:\n  name: regcred\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: ${cfg}\n`,
      ),
    );
  }

  // ---------------------------------------------------------------------------------------- headers in code
  {
    const v = jwt();
    add(kind('JWT in code', 'tests/api.test.ts', [v], `const adminToken = '${v}';\n`));
  }
  {
    const v = alnum(40);
    add(
      kind(
        'Bearer header in code',
        'src/api/client.ts',
        [v],
        `export const api = axios.create({\n  baseURL: 'https://api.example.com',\n  headers: { Authorization: 'Bearer ${v}' },\n});\n`,
      ),
    );
  }
  {
    const v = hex(32);
    add(
      kind(
        'X-API-Key header in a curl script',
        'scripts/smoke.sh',
        [v],
        `#!/bin/sh\ncurl -fsS -H "X-API-Key: ${v}" https://api.example.com/health\n`,
      ),
    );
  }
  {
    const v = alnum(32);
    add(kind('X-API-Key header in Python', 'client/http.py', [v], `HEADERS = {"Content-Type": "application/json", "X-API-Key": "${v}"}\n`));
  }
  {
    const v = Buffer.from(`admin:${password()}`).toString('base64');
    add(kind('Basic auth header in code', 'src/legacy.java', [v], `conn.setRequestProperty("Authorization", "Basic ${v}");\n`));
  }

  // ------------------------------------------------------------------------------ config formats, unquoted
  {
    const v = password();
    add(
      kind(
        'YAML password (Spring application.yml)',
        'src/main/resources/application.yml',
        [v],
        `spring:\n  datasource:\n    url: jdbc:postgresql://db:5432/app\n    username: app\n    password: ${v}\n`,
      ),
    );
  }
  {
    const v = password();
    add(
      kind(
        'docker-compose environment password',
        'docker-compose.yml',
        [v],
        `services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_USER: app\n      POSTGRES_PASSWORD: ${v}\n`,
      ),
    );
  }
  {
    const v = password();
    add(
      kind(
        'docker-compose environment list',
        'compose.prod.yaml',
        [v],
        `services:\n  api:\n    image: api:latest\n    environment:\n      - NODE_ENV=production\n      - JWT_SECRET=${v}\n`,
      ),
    );
  }
  {
    const v = password();
    add(
      kind(
        'Rails database.yml',
        'config/database.yml',
        [v],
        `production:\n  adapter: postgresql\n  database: app_production\n  username: app\n  password: ${v}\n`,
      ),
    );
  }
  {
    const v = password();
    add(kind('Helm values admin password', 'charts/grafana/values.yaml', [v], `replicas: 1\nadminUser: admin\nadminPassword: ${v}\n`));
  }
  {
    const v = hex(32);
    add(kind('Datadog agent API key', 'datadog/datadog.yaml', [v], `api_key: ${v}\nsite: datadoghq.eu\nlogs_enabled: true\n`));
  }
  {
    const v = password();
    add(kind('INI password', 'config/app.ini', [v], `[database]\nhost = localhost\nuser = app\npassword = ${v}\n`));
  }
  {
    const v = password();
    add(kind('.properties password', 'gradle.properties', [v], `org.gradle.jvmargs=-Xmx2g\nmavenUser=ci\nmavenPassword=${v}\n`));
  }
  {
    const v = alnum(32);
    add(kind('*.env file (not .env*)', 'deploy/prod.env', [v], `LOG_LEVEL=info\nSTRIPE_WEBHOOK_SECRET=${v}\n`));
  }
  {
    const v = password();
    add(kind('Dockerfile ENV password', 'Dockerfile', [v], `FROM node:20\nENV DB_PASSWORD=${v}\nCMD ["node", "server.js"]\n`));
  }
  {
    const v = password();
    add(
      kind(
        'Maven settings.xml',
        '.mvn/settings.xml',
        [v],
        `<settings>\n  <servers>\n    <server>\n      <id>releases</id>\n      <username>deploy</username>\n      <password>${v}</password>\n    </server>\n  </servers>\n</settings>\n`,
      ),
    );
  }
  {
    const v = password();
    add(
      kind(
        'NuGet.config ClearTextPassword',
        'NuGet.config',
        [v],
        `<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <packageSourceCredentials>\n    <internal>\n      <add key="Username" value="ci" />\n      <add key="ClearTextPassword" value="${v}" />\n    </internal>\n  </packageSourceCredentials>\n</configuration>\n`,
      ),
    );
  }
  {
    const v = password();
    const salt = b64(48);
    add(
      kind(
        'wp-config.php',
        'wp-config.php',
        [v, salt],
        `<?php\ndefine( 'DB_NAME', 'wordpress' );\ndefine( 'DB_USER', 'wp' );\ndefine( 'DB_PASSWORD', '${v}' );\ndefine( 'AUTH_KEY', '${salt}' );\n`,
      ),
    );
  }
  {
    const v = password();
    add(kind('Terraform variables file', 'infra/prod.tfvars', [v], `region      = "eu-west-1"\ndb_password = "${v}"\n`));
  }
  {
    const v = lowerAlnum(14) + '.atlas' + 'v1.' + lowerAlnum(67);
    add(kind('.terraformrc credentials block', 'ops/terraformrc', [v], `credentials "app.terraform.io" {\n  token = "${v}"\n}\n`));
  }
  {
    const v = hex(128);
    add(kind('Rails secret_key_base', 'config/secrets.rb', [v], `Rails.application.config.secret_key_base = "${v}"\n`));
  }
  {
    const v = b64(40);
    add(kind('Django SECRET_KEY', 'mysite/settings.py', [v], `DEBUG = False\nSECRET_KEY = '${v}'\nALLOWED_HOSTS = ['example.com']\n`));
  }
  {
    const v = password();
    add(
      kind(
        'Composer auth.json',
        'auth.json',
        [v],
        JSON.stringify({ 'http-basic': { 'repo.example.com': { username: 'ci', password: v } } }, null, 2),
      ),
    );
  }
  {
    const v = alnum(32);
    add(kind('TOML token', 'config/production.toml', [v], `[server]\nport = 8080\n\n[github]\ntoken = "${v}"\n`));
  }
  {
    const v = password();
    add(
      kind(
        'Java string literal password',
        'src/main/java/Db.java',
        [v],
        `class Db {\n  private static final String PASSWORD = "${v}";\n}\n`,
      ),
    );
  }
  {
    const v = alnum(40);
    add(kind('Go constant API token', 'internal/client/client.go', [v], `package client\n\nconst apiToken = "${v}"\n`));
  }
  {
    const v = password();
    add(
      kind(
        'Jupyter notebook password',
        'notebooks/explore.ipynb',
        [v],
        JSON.stringify(
          {
            cells: [
              {
                cell_type: 'code',
                metadata: {},
                source: ['import psycopg2\n', `conn = psycopg2.connect(host="db", user="analyst", password="${v}")\n`],
                outputs: [],
              },
            ],
            metadata: {},
            nbformat: 4,
            nbformat_minor: 5,
          },
          null,
          1,
        ),
      ),
    );
  }
  {
    const v = alnum(40);
    add(
      kind(
        'Jupyter notebook API key',
        'notebooks/weather.ipynb',
        [v],
        JSON.stringify(
          {
            cells: [
              { cell_type: 'code', metadata: {}, source: [`API_KEY = '${v}'\n`, 'r = get(URL, params={"key": API_KEY})'], outputs: [] },
            ],
            nbformat: 4,
            nbformat_minor: 5,
          },
          null,
          1,
        ),
      ),
    );
  }
  {
    const v = password();
    add(
      kind(
        'SMTP password in PHP array config',
        'config/mail.php',
        [v],
        `<?php\nreturn [\n    'host' => 'smtp.example.com',\n    'username' => 'noreply',\n    'password' => '${v}',\n];\n`,
      ),
    );
  }
  {
    const v = alnum(32);
    add(kind('Shell export of a token', 'scripts/deploy.sh', [v], `#!/bin/bash\nexport CLOUDFLARE_API_TOKEN=${v}\n./deploy\n`));
  }
  {
    const v = hex(40);
    add(
      kind(
        'GitHub Actions secret inlined',
        '.github/workflows/deploy.yml',
        [v],
        `on: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n      SENTRY_AUTH_TOKEN: ${v}\n`,
      ),
    );
  }
  return out;
}
