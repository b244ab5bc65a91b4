import { describe, expect, it } from 'vitest';
import { echoString } from '../../src/config/echo.js';
import { checkGlob } from '../../src/config/globs.js';
import { isLoopbackHost, parseListenAddress } from '../../src/config/listen.js';
import { checkFolderLayout, isSameOrInside } from '../../src/config/paths.js';
import { closestMatch, editDistance } from '../../src/config/suggest.js';

describe('closestMatch', () => {
  it('suggests near misses and nothing for unrelated words', () => {
    expect(editDistance('concurency', 'concurrency')).toBe(1);
    expect(closestMatch('concurency', ['baseUrl', 'concurrency', 'timeoutMs'])).toBe('concurrency');
    expect(closestMatch('TimeoutMS', ['timeoutMs', 'uploadTimeoutMs'])).toBe('timeoutMs');
    expect(closestMatch('colour', ['api', 'folders', 'watch'])).toBeUndefined();
  });
});

describe('listen addresses', () => {
  it('parses host:port and [v6]:port', () => {
    expect(parseListenAddress('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListenAddress('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListenAddress('::1:80')).toBeNull();
    expect(parseListenAddress('localhost')).toBeNull();
  });

  it('knows loopback hosts', () => {
    expect(['localhost', '127.0.0.1', '127.1.2.3', '::1'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.1', 'example.com', '128.0.0.1'].some(isLoopbackHost)).toBe(false);
  });
});

describe('globs', () => {
  it('accepts ordinary patterns', () => {
    for (const pattern of ['**/*.pdf', 'docs/**', '*.{md,txt}', '**/.git', 'a/[bc]/*'])
      expect(checkGlob(pattern)).toBeNull();
  });
});

describe('folder layout', () => {
  it('treats "..name" as a child, not a parent', () => {
    expect(isSameOrInside('/a', '/a/..b')).toBe(true);
    expect(isSameOrInside('/a', '/ab')).toBe(false);
    expect(isSameOrInside('/a/b', '/a')).toBe(false);
  });

  it('accepts sibling folders', () => {
    expect(
      checkFolderLayout([
        { name: 'a', path: '/data/a' },
        { name: 'ab', path: '/data/ab' },
      ]),
    ).toEqual([]);
  });
});

describe('echoString', () => {
  it('hides key-like values and shortens long ones', () => {
    expect(echoString('sk-ant-api03-xyz')).not.toContain('sk-ant');
    expect(echoString('A'.repeat(40))).not.toContain('AAAA');
    expect(echoString('docs')).toBe('"docs"');
    expect(echoString(`${'a b '.repeat(30)}`).length).toBeLessThan(70);
  });
});
