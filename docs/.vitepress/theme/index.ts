// The default theme plus twoslash's hover popups (floating-vue) for the snippet blocks and
// the benchmark charts component pages can use as <BenchCharts />.
import type { EnhanceAppContext } from 'vitepress'
import DefaultTheme from 'vitepress/theme'
import TwoslashFloatingVue from '@shikijs/vitepress-twoslash/client'
import '@shikijs/vitepress-twoslash/style.css'
import BenchCharts from './BenchCharts.vue'
import BenchFigure from './BenchFigure.vue'

export default {
  extends: DefaultTheme,
  enhanceApp({ app }: EnhanceAppContext) {
    app.use(TwoslashFloatingVue)
    app.component('BenchCharts', BenchCharts)
    app.component('BenchFigure', BenchFigure)
  },
}
