// router-types.ts: types to name in your own code, inferred from the router
import type { InferProcedureInput, InferProcedureOutput, InferProcedureParsedInput, inferRouterInputs, inferRouterOutputs } from '@patchbay/core'
import type { Handler } from '@patchbay/server'
import type { Client } from '@patchbay/client'
import { app } from './router-define.js'

type Inputs = inferRouterInputs<typeof app>
type Outputs = inferRouterOutputs<typeof app>

// What a caller passes, and what it gets back: `limit` is optional here.
export type ListQuery = Inputs['todos']['list']
export type Todo = Outputs['todos']['add']

// One procedure at a time: what the handler sees has `limit: number` and `at: Date`.
export type ListInput = InferProcedureInput<typeof app.todos.list>
export type ListParsed = InferProcedureParsedInput<typeof app.todos.list>
export type DueOutput = InferProcedureOutput<typeof app.todos.dueBefore>

// A handler written in a file of its own, typed against the same definition.
export const dueBefore: Handler<typeof app.todos.dueBefore, { user: string }> = ({ input }) => {
  console.log(input.at.toISOString())
  return []
}

// The client's type, for a function that takes one.
export async function countOpen(client: Client<typeof app>): Promise<number> {
  return (await client.todos.list({ done: false, limit: 100 })).length
}
