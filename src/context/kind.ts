// What a file is for, by its path alone: the first key of the ranking. A senior engineer reading a new
// repository reads the code first, then the tests that show how it is used, then the docs and examples, and
// the CI and tool configuration last.
import { languageOf } from './syntax.ts';

export type FileKind = 'source' | 'test' | 'doc' | 'example' | 'config' | 'ci';

/** Rank order of the kinds: lower goes in first. Docs and examples share a tier. */
export const KIND_TIER: Record<FileKind, number> = { source: 0, test: 1, doc: 2, example: 2, config: 3, ci: 3 };

const CI_DIRS = /(^|\/)(\.github|\.circleci|\.gitlab|\.buildkite|\.azure-pipelines|\.ci|\.devcontainer|\.husky)\//;
const CI_FILES =
  /^(\.gitlab-ci\.yml|\.travis\.yml|appveyor\.yml|azure-pipelines\.yml|jenkinsfile|\.pre-commit-config\.yaml|\.pre-commit-hooks\.yaml|codecov\.yml|\.readthedocs\.ya?ml|dockerfile|docker-compose\.ya?ml|compose\.ya?ml|makefile|tox\.ini|noxfile\.py)$/;
const TEST_DIRS = /(^|\/)(tests?|__tests__|spec|specs|testing|testdata|test_data|fixtures|__mocks__|e2e|benchmarks?|bench)\//;
const TEST_FILES = /^test_.*\.py$|_test\.(py|go|rs|c|cc|cpp)$|\.(test|spec)\.[cm]?[jt]sx?$|^conftest\.py$/;
/** Java/Kotlin/C# test classes, by their case-sensitive names (FooTest.java, TestFoo.java). */
const TEST_CLASSES = /[a-z0-9]Tests?\.(java|kt|cs)$|^Test[A-Z]\w*\.(java|kt|cs)$/;
const EXAMPLE_DIRS = /(^|\/)(examples?|samples?|demos?|tutorials?|playground)\//;
const DOC_DIRS = /(^|\/)(docs|documentation|man|site|website|changelogs?)\//;
/** `doc/` holds documentation, or (Go's cobra/doc, Rust crates) a package of code: code there is source. */
const DOC_DIR = /(^|\/)doc\//;
const DOC_EXT = /\.(md|mdx|markdown|rst|txt|adoc|asciidoc|org|tex|html?|ipynb)$/;
const DOC_FILES =
  /^(readme|changelog|changes|history|news|authors|contributors|contributing|code_of_conduct|security|license|licence|copying|notice|patents|support|governance|maintainers)(\.[a-z0-9]+)?$/;
const CONFIG_EXT = /\.(json|jsonc|json5|ya?ml|toml|ini|cfg|conf|properties|xml|lock|editorconfig|env|plist|gradle|cmake)$/;
const CONFIG_FILES =
  /^(\.[a-z0-9_.-]+rc(\.[a-z]+)?|\.gitignore|\.gitattributes|\.npmignore|\.dockerignore|\.editorconfig|\.prettierignore|\.eslintignore|package\.json|tsconfig.*\.json|setup\.cfg|setup\.py|pyproject\.toml|cargo\.toml|go\.mod|go\.sum|gemfile|rakefile|requirements.*\.txt|manifest\.in|[a-z0-9_.-]*\.config\.[cm]?[jt]s|cmakelists\.txt|meson\.build|build\.gradle(\.kts)?|pom\.xml|.*\.csproj|esbuild\.mjs|webpack\..*|rollup\..*|vite\..*|jest\..*|vitest\..*|karma\..*|babel\..*|gulpfile\..*|gruntfile\..*)$/;

export function fileKind(path: string): FileKind {
  const lower = path.toLowerCase();
  const name = lower.slice(lower.lastIndexOf('/') + 1);
  if (CI_DIRS.test(lower) || CI_FILES.test(name)) return 'ci';
  if (DOC_FILES.test(name)) return 'doc';
  if (CONFIG_FILES.test(name)) return 'config';
  if (TEST_DIRS.test(lower) || TEST_FILES.test(name) || TEST_CLASSES.test(path.slice(path.lastIndexOf('/') + 1))) return 'test';
  if (EXAMPLE_DIRS.test(lower)) return 'example';
  if (DOC_DIRS.test(lower) || DOC_EXT.test(name) || (DOC_DIR.test(lower) && languageOf(path) === undefined)) return 'doc';
  if (CONFIG_EXT.test(name)) return 'config';
  return 'source';
}
