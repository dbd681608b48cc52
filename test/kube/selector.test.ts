// Label selector syntax (the API server's rules) and matching, as tables.
import t from 'tap';
import { labelKeyError, labelValueError, matches, requirementError, formatSelector, type LabelSelector, type Requirement } from '../../lib/kube/selector';

t.test('label keys', async (t) => {
  const ok = ['app', 'a', 'app.kubernetes.io/name', 'kubernetes.io/metadata.name', 'A_b-c.d', 'x'.repeat(63), `${'a'.repeat(63)}.example.com/n`];
  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['-app', /start and end/],
    ['app-', /start and end/],
    ['a b', /alphanumerics/],
    ['x'.repeat(64), /longer than 63/],
    ['/name', /empty prefix/],
    ['a/b/c', /more than one/],
    ['Example.com/name', /lowercase DNS subdomain/],
    ['example.com/', /name part.*empty/],
    [`${'a'.repeat(254)}/n`, /longer than 253/],
  ];
  for (const k of ok) t.equal(labelKeyError(k), null, `ok: ${k.slice(0, 40)}`);
  for (const [k, re] of bad) t.match(labelKeyError(k), re, `bad: "${k.slice(0, 40)}"`);
});

t.test('label values', async (t) => {
  for (const v of ['', 'frontend', 'v1.2.3', 'a_b-c', 'x'.repeat(63)]) t.equal(labelValueError(v), null, `ok: "${v.slice(0, 20)}"`);
  for (const v of ['-x', 'x-', 'a/b', 'x'.repeat(64), 'sp ace']) t.not(labelValueError(v), null, `bad: "${v.slice(0, 20)}"`);
});

t.test('requirements', async (t) => {
  const r = (key: string, operator: string, values: string[] = []) => ({ key, operator, values }) as Requirement;
  t.equal(requirementError(r('app', 'In', ['a'])), null);
  t.equal(requirementError(r('app', 'Exists')), null);
  t.match(requirementError(r('app', 'In')), /needs at least one value/);
  t.match(requirementError(r('app', 'NotIn')), /needs at least one value/);
  t.match(requirementError(r('app', 'Exists', ['a'])), /takes no values/);
  t.match(requirementError(r('app', 'DoesNotExist', ['a'])), /takes no values/);
  t.match(requirementError(r('app', 'in', ['a'])), /not one of/);
  t.match(requirementError(r('app', 'In', ['bad value'])), /label value/);
  t.match(requirementError(r('-x', 'Exists')), /label key/);
});

t.test('matching', async (t) => {
  const S = (matchLabels: Record<string, string> = {}, matchExpressions: Requirement[] = []): LabelSelector => ({ matchLabels, matchExpressions });
  const E = (key: string, operator: Requirement['operator'], values: string[] = []): Requirement => ({ key, operator, values });
  const labels = { app: 'frontend', tier: 'web', empty: '' };
  const cases: [string, LabelSelector, Record<string, string> | undefined, boolean][] = [
    ['empty selects everything', S(), labels, true],
    ['empty selects unlabelled', S(), undefined, true],
    ['matchLabels equal', S({ app: 'frontend' }), labels, true],
    ['matchLabels other value', S({ app: 'backend' }), labels, false],
    ['matchLabels missing key', S({ team: 'a' }), labels, false],
    ['matchLabels all must hold', S({ app: 'frontend', tier: 'db' }), labels, false],
    ['matchLabels empty value', S({ empty: '' }), labels, true],
    ['matchLabels empty value vs missing', S({ missing: '' }), labels, false],
    ['In hit', S({}, [E('app', 'In', ['backend', 'frontend'])]), labels, true],
    ['In miss', S({}, [E('app', 'In', ['backend'])]), labels, false],
    ['In missing key', S({}, [E('team', 'In', ['a'])]), labels, false],
    ['NotIn hit', S({}, [E('app', 'NotIn', ['frontend'])]), labels, false],
    ['NotIn other', S({}, [E('app', 'NotIn', ['backend'])]), labels, true],
    ['NotIn missing key matches', S({}, [E('team', 'NotIn', ['a'])]), labels, true],
    ['Exists', S({}, [E('tier', 'Exists')]), labels, true],
    ['Exists missing', S({}, [E('team', 'Exists')]), labels, false],
    ['Exists with empty value', S({}, [E('empty', 'Exists')]), labels, true],
    ['DoesNotExist', S({}, [E('team', 'DoesNotExist')]), labels, true],
    ['DoesNotExist present', S({}, [E('app', 'DoesNotExist')]), labels, false],
    ['labels AND expressions', S({ app: 'frontend' }, [E('tier', 'In', ['web'])]), labels, true],
    ['labels AND expressions, one fails', S({ app: 'frontend' }, [E('tier', 'NotIn', ['web'])]), labels, false],
    ['prototype keys are not labels', S({ constructor: 'x' }), {}, false],
    ['hasOwnProperty as Exists', S({}, [E('toString', 'Exists')]), {}, false],
  ];
  for (const [name, sel, l, want] of cases) t.equal(matches(sel, l), want, name);
});

t.test('formatting', async (t) => {
  t.equal(
    formatSelector({
      matchLabels: { app: 'a' },
      matchExpressions: [
        { key: 't', operator: 'In', values: ['x', 'y'] },
        { key: 'e', operator: 'Exists', values: [] },
        { key: 'd', operator: 'DoesNotExist', values: [] },
      ],
    }),
    'app=a,t in (x,y),e,!d',
  );
  t.equal(formatSelector({ matchLabels: {}, matchExpressions: [] }), '(all)');
});
