export { serveStatic } from './static.js'
