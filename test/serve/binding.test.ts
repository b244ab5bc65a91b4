/** Where the endpoint listens and who may ask: a Unix socket (0660), a bearer token, never an open non-loopback port. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeProject } from '../helpers/project.js';
import { serve } from './support.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import { getFromDaemon } from '../../src/serve/client.js';
import { parseListenTarget } from '../../src/config/listen.js';
import { bearerMatches } from '../../src/serve/token.js';

const TOKEN = 'tok-0123456789abcdef0123';

describe('endpoint binding', () => {
  it('serves every route on a Unix socket created 0660, and replaces a stale socket', async () => {
    const project = await makeProject({ files: { 'a.txt': 'a\n' } });
    const sock = path.join(project.dir, 'api.sock');
    const s = await serve({ listen: `unix:${sock}` }, project);
    expect(s.url).toBe(`unix:${sock}`);
    const st = await fs.stat(sock);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o660);
    const r = await s.get('/v1/lookup?folder=docs&path=a.txt');
    expect(r.status).toBe(200);
    expect(r.json.state).toBe('synced');
    expect((await s.get('/healthz')).status).toBe(200);
    // A restart finds its old socket file gone or stale and listens again.
    await s.restart();
    expect((await s.get('/v1/lookup?folder=docs&path=a.txt')).status).toBe(200);
  });

  it('refuses a socket path that is not ours to remove (a plain file) instead of deleting it', async () => {
    const project = await makeProject();
    const file = path.join(project.dir, 'taken');
    await fs.writeFile(file, 'keep me');
    await expect(serve({ listen: `unix:${file}` }, project)).rejects.toThrow(/EADDRINUSE/);
    expect(await fs.readFile(file, 'utf8')).toBe('keep me');
  });

  it('with http.tokenFile, every route but /healthz needs the bearer token', async () => {
    const project = await makeProject({ files: { 'a.txt': 'a\n' } });
    const tokenFile = path.join(project.dir, 'token');
    await fs.writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const config = JSON.parse(await fs.readFile(project.configPath, 'utf8')) as Record<string, unknown>;
    await fs.writeFile(project.configPath, JSON.stringify({ ...config, http: { tokenFile: 'token' } }));
    const s = await serve({ token: TOKEN }, project);
    expect((await s.get('/v1/lookup?folder=docs&path=a.txt')).status).toBe(200);
    const target = parseListenTarget(s.url.replace('http://', ''))!;
    for (const route of ['/v1/lookup?folder=docs&path=a.txt', '/v1/events', '/status', '/metrics']) {
      const none = await getFromDaemon(target, route, { timeoutMs: 10_000 });
      expect({ route, status: none.status }).toEqual({ route, status: 401 });
      expect(JSON.parse(none.body)).toMatchObject({ error: 'missing or wrong bearer token' });
      const wrong = await getFromDaemon(target, route, { timeoutMs: 10_000, token: `${TOKEN}x` });
      expect(wrong.status).toBe(401);
    }
    expect((await getFromDaemon(target, '/healthz', { timeoutMs: 10_000 })).status).toBe(200);
  });

  it('a non-loopback address without a token is a configuration error; with one it is accepted', async () => {
    const project = await makeProject();
    const config = JSON.parse(await fs.readFile(project.configPath, 'utf8')) as Record<string, unknown>;
    await fs.writeFile(project.configPath, JSON.stringify({ ...config, http: { listen: '0.0.0.0:9464' } }));
    const err = await loadConfig({ configPath: project.configPath, env: project.env }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(/http\.listen[\s\S]*needs a bearer token/);
    await fs.writeFile(
      project.configPath,
      JSON.stringify({ ...config, http: { listen: '0.0.0.0:9464', tokenFile: 'token' } }),
    );
    const ok = await loadConfig({ configPath: project.configPath, env: project.env });
    expect(ok.config.http.tokenFile).toBe(path.join(project.dir, 'token'));
  });

  it('refuses a token file others can read, or one too short to be a secret', async () => {
    const project = await makeProject();
    const tokenFile = path.join(project.dir, 'token');
    const config = JSON.parse(await fs.readFile(project.configPath, 'utf8')) as Record<string, unknown>;
    await fs.writeFile(project.configPath, JSON.stringify({ ...config, http: { tokenFile: 'token' } }));
    await fs.writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o644 });
    await fs.chmod(tokenFile, 0o644);
    await expect(serve({}, project)).rejects.toThrow(/readable by other users/);
    await fs.writeFile(tokenFile, 'short\n');
    await fs.chmod(tokenFile, 0o600);
    await expect(serve({}, project)).rejects.toThrow(/shorter than 16/);
  });

  it('compares bearer tokens exactly', () => {
    expect(bearerMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`bearer   ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`Bearer ${TOKEN.slice(1)}`, TOKEN)).toBe(false);
    expect(bearerMatches(`Basic ${TOKEN}`, TOKEN)).toBe(false);
    expect(bearerMatches(undefined, TOKEN)).toBe(false);
  });
});
