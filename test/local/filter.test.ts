import { describe, expect, it } from 'vitest';
import picomatch from 'picomatch';
import {
  compileAny,
  createPathFilter,
  DEFAULT_EXCLUDES,
  InvalidFilterError,
} from '../../src/local/filter.js';
import { seededRng } from '../reliability/support.js';

describe('createPathFilter: files', () => {
  const cases: Array<{ name: string; include?: string[]; exclude?: string[]; yes: string[]; no: string[] }> =
    [
      {
        name: 'no patterns: everything, dotfiles included',
        yes: ['a.txt', 'deep/nested/file.pdf', '.env', 'dir/.hidden', '.config/x'],
        no: [],
      },
      {
        name: 'include by extension anywhere',
        include: ['**/*.pdf'],
        yes: ['a.pdf', 'x/y/z.pdf', '.hidden/q.pdf'],
        no: ['a.txt', 'x/y.pdfx', 'pdf'],
      },
      {
        name: 'patterns match the whole path, not the basename',
        include: ['*.pdf'],
        yes: ['top.pdf'],
        no: ['sub/nested.pdf'],
      },
      {
        name: 'include naming a directory includes what is under it',
        include: ['docs'],
        yes: ['docs/a.txt', 'docs/deep/b.md'],
        no: ['other/a.txt', 'docs2/a.txt', 'readme.md'],
      },
      {
        name: 'exclude wins over include',
        include: ['**/*.txt'],
        exclude: ['secret/**', '**/draft-*'],
        yes: ['a.txt', 'public/b.txt'],
        no: ['secret/a.txt', 'x/draft-1.txt', 'a.md'],
      },
      {
        name: 'an excluded directory hides everything beneath it',
        exclude: ['**/.git', 'node_modules/**', 'build'],
        yes: ['src/a.ts', 'git/x', 'sub/node_modules/x.js', 'builder/x'],
        no: ['.git/config', 'pkg/.git/objects/ab/cd', 'node_modules/x/index.js', 'build/out.js'],
      },
      {
        name: 'default excludes: editor temp files and OS metadata',
        yes: ['notes.swp', 'a.tmp', 'report.bak', 'x.part', 'Thumbs.db', 'tilde~in/name.txt', 'a#b'],
        no: [
          '.notes.txt.swp',
          'd/.notes.txt.swo',
          'd/.x.swx',
          'notes.txt~',
          'd/.#notes.txt',
          '#notes.txt#',
          'd/.a.txt.kate-swp',
          'd/.goutputstream-ABC123',
          '.~lock.report.odt#',
          'd/~$report.docx',
          '.DS_Store',
          'photos/.DS_Store',
        ],
      },
    ];
  for (const c of cases) {
    it(c.name, () => {
      const filter = createPathFilter({
        ...(c.include ? { include: c.include } : {}),
        ...(c.exclude ? { exclude: c.exclude } : {}),
      });
      for (const p of c.yes) expect(filter.matchesFile(p), p).toBe(true);
      for (const p of c.no) expect(filter.matchesFile(p), p).toBe(false);
    });
  }

  it('default excludes cannot be removed by an empty exclude list', () => {
    expect(DEFAULT_EXCLUDES.length).toBeGreaterThan(0);
    expect(createPathFilter({ exclude: [] }).matchesFile('.DS_Store')).toBe(false);
  });
});

describe('createPathFilter: directory pruning', () => {
  it('prunes directories an exclude pattern names', () => {
    const f = createPathFilter({ exclude: ['**/.git', 'node_modules/**', 'cache'] });
    for (const d of ['.git', 'a/b/.git', 'node_modules', 'node_modules/pkg', 'cache', '.git/objects']) {
      expect(f.mayContain(d), d).toBe(false);
    }
    for (const d of ['', 'src', 'a/node_modules', 'git', 'caches']) expect(f.mayContain(d), d).toBe(true);
  });

  it('does not prune a directory that only some files under it are excluded from', () => {
    const f = createPathFilter({ exclude: ['build/**/*.js'] });
    expect(f.mayContain('build')).toBe(true);
    expect(f.mayContain('build/sub')).toBe(true);
    expect(f.matchesFile('build/sub/a.js')).toBe(false);
    expect(f.matchesFile('build/sub/a.css')).toBe(true);
  });

  it('prunes directories no include pattern can reach', () => {
    const f = createPathFilter({ include: ['docs/**/*.pdf', 'notes/today.md'] });
    for (const d of ['docs', 'docs/2026', 'notes']) expect(f.mayContain(d), d).toBe(true);
    for (const d of ['src', 'doc', 'notes/old', 'docsx']) expect(f.mayContain(d), d).toBe(false);
  });

  it('keeps every directory when an include pattern starts with a glob', () => {
    const f = createPathFilter({ include: ['**/*.pdf'] });
    expect(f.mayContain('anything/at/all')).toBe(true);
  });

  it('keeps every directory for negated or escaped include patterns rather than pruning wrongly', () => {
    expect(createPathFilter({ include: ['!x/**'] }).mayContain('y')).toBe(true);
    expect(createPathFilter({ include: ['a\\*b/**'] }).mayContain('zzz')).toBe(true);
  });
});

describe('createPathFilter: state directory', () => {
  it('excludes a state directory inside the folder literally, even with glob characters in its name', () => {
    const f = createPathFilter({ root: '/data/folder', stateDir: '/data/folder/.state[1]' });
    expect(f.mayContain('.state[1]')).toBe(false);
    expect(f.matchesFile('.state[1]/docs.manifest.json')).toBe(false);
    expect(f.matchesFile('.state1/x')).toBe(true);
    expect(f.matchesFile('.state[1]x')).toBe(true);
  });

  it('ignores a state directory outside the folder', () => {
    const f = createPathFilter({ root: '/data/folder', stateDir: '/data/state' });
    expect(f.matchesFile('state/x')).toBe(true);
    expect(f.matchesFile('..state/x')).toBe(true);
  });

  it('keeps a sibling whose name merely starts with two dots', () => {
    const f = createPathFilter({ root: '/data/folder', stateDir: '/data/folder/..state' });
    expect(f.mayContain('..state')).toBe(false);
  });

  it('refuses a state directory that is the folder itself', () => {
    expect(() => createPathFilter({ root: '/data/folder', stateDir: '/data/folder/' })).toThrow(
      InvalidFilterError,
    );
  });
});

describe('compileAny: one test for a list of globs', () => {
  // Every kind of glob a config may hold: defaults, negation, extglobs, braces, classes, literals
  // with glob characters, escapes, a bare name.
  const patterns = [
    ...DEFAULT_EXCLUDES,
    '**/*.+(log|tmp)',
    'build/@(a|b)/**',
    'docs/{draft,old}/*.md',
    '**/[0-9][0-9].csv',
    'a+b(c).txt',
    'weird\\*name',
    'README',
    '**/node_modules',
    '!keep/**',
    // `**/` and one segment's glob: matched on the last segment alone (see compileAny).
    '**/*',
    '**/**',
    '**/.*',
    '**/a?c.[tc]xt',
    '**/[!a]*.md',
    '**/*.{md,txt}',
    '**/x/*.txt',
    // Names whose segment regex would differ from picomatch's whole-path one: left whole.
    '**/a|b',
    '**/*.log|*.tmp',
    '**/core.[[:digit:]]*',
    '**/$$',
    '**/$$*',
    '**/^^',
    '**/***a.*',
  ];
  const paths = [
    'a.txt',
    '.DS_Store',
    'd/.DS_Store',
    'x/.y.swp',
    'notes.txt~',
    'dir/.#lock',
    '#auto#',
    'keep/x.txt',
    'other/x.txt',
    'logs/a.log',
    'a.tmp',
    'build/a/x.js',
    'build/c/x.js',
    'docs/draft/a.md',
    'docs/new/a.md',
    'data/12.csv',
    'data/123.csv',
    'a+b(c).txt',
    'ab(c).txt',
    'weird*name',
    'weirdXname',
    'README',
    'sub/README',
    'x/node_modules',
    'node_modules',
    'x/.~lock.doc#',
    '~$report.docx',
    'deep/a/b/c/.goutputstream-1',
    'abc.txt',
    'q/abc.ctx',
    'q/.hidden/abc.txt',
    '.hidden/abc.md',
    'q/b.md',
    'x/a.txt',
    'q/x/a.txt',
    'q/x/y/a.txt',
    'q/.x.swp/inner.txt',
    'q/notes~/inner.txt',
    '.DS_Store/x',
    'a',
    'b',
    'x/a',
    'x/b',
    'a|b',
    'd/x.tmp',
    'core/1',
    'x/core.1',
    '$',
    '$$',
    'x/$$',
    'x/$$y',
    '^^',
    'x/^^',
    '.a/|',
    'ab/x',
    // A directory name with a line break: picomatch's `**/` does not cross it.
    'we\nird/.DS_Store',
    'a\rb/.x.swp',
    'l\u2028s/notes~',
    'n\n/abc.txt',
  ];
  it('says what picomatch says for each pattern alone, and for every list of them', () => {
    const each = patterns.map((p) => picomatch(p, { dot: true }));
    for (let i = 0; i < patterns.length; i++) {
      const one = compileAny([patterns[i]!]);
      for (const p of paths) expect(one(p), `${p} against ${patterns[i]}`).toBe(each[i]!(p));
    }
    for (let n = 0; n <= patterns.length; n++) {
      const any = compileAny(patterns.slice(0, n));
      for (const p of paths)
        expect(any(p), `${p} against the first ${n} patterns`).toBe(each.slice(0, n).some((m) => m(p)));
    }
  });
  it('says what picomatch says for thousands of seeded `**/name` patterns and paths', () => {
    // Pieces of patterns and of path segments, odd ones included: regex and glob characters,
    // classes, doubled characters, line breaks in a directory name, non-ASCII.
    const patternPieces = [
      'a',
      'b',
      'ab',
      '.',
      '..',
      '*',
      '?',
      '**',
      '~',
      '#',
      '$',
      '$$',
      '^',
      '^^',
      '|',
      '-',
      '_',
      ' ',
      'é',
      '\u{1F600}',
      '[ab]',
      '[^a]',
      '[!a]',
      '[a-c]',
      '[.]',
      '[[:alpha:]]',
      '[[:digit:]]',
      ']',
      '[',
      '=',
      '&',
      '%',
      '.*',
      '*.*',
      '**a',
      'a**',
      '\t',
    ];
    const segmentPieces = [
      'a',
      'b',
      'c',
      'ab',
      '.a',
      'a.',
      '.',
      'x y',
      'é',
      '\u{1F600}',
      '#',
      '~',
      '$',
      '$$',
      '^',
      '^^',
      '|',
      '[',
      ']',
      '*',
      '?',
      '-',
      '1',
      '\n',
      '\r',
      '\u2028',
      '\t',
    ];
    const rng = seededRng(20261204);
    const piecesOf = (pieces: string[], max: number): string => {
      let s = '';
      for (let n = 1 + rng.int(max); n > 0; n--) s += rng.pick(pieces);
      return s;
    };
    const segment = (): string => {
      for (;;) {
        const s = piecesOf(segmentPieces, 3);
        if (s !== '.' && s !== '..') return s;
      }
    };
    let split = 0;
    for (let i = 0; i < 2000; i++) {
      const pattern = `**/${piecesOf(patternPieces, 3)}`;
      const reference = picomatch(pattern, { dot: true });
      const ours = compileAny([pattern]);
      if (/^\*\*\/[\w.~#*?$ \u00a0-\uffff-]+$/.test(pattern)) split++;
      for (let j = 0; j < 30; j++) {
        const p = Array.from({ length: 1 + rng.int(4) }, segment).join('/');
        expect(ours(p), `${JSON.stringify(p)} against ${JSON.stringify(pattern)}`).toBe(reference(p));
      }
    }
    // Most patterns take the split; the ones that may not are tested whole all the same.
    expect(split).toBeGreaterThan(600);
  }, 30_000);

  it('matches no empty path and nothing for no patterns', () => {
    expect(compileAny(['**'])('')).toBe(false);
    expect(compileAny([])('a.txt')).toBe(false);
  });
});
