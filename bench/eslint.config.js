// The repo's rules, plus one change for this workspace's plain JavaScript: `no-undef` is off
// because `tsc` (checkJs, see tsconfig.json) already checks every name against Node's types,
// as typescript-eslint recommends for TypeScript-checked code.
import root from '../eslint.config.js'

export default [...root, { files: ['**/*.js'], rules: { 'no-undef': 'off' } }]
