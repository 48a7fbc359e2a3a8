/**
 * A promise that never settles: what every durable call returns in an invocation that must end
 * without acting further (see LambdaRuntime.blocked); the SDK ends the invocation at its next wait.
 */
export const NEVER = new Promise<never>(() => undefined);
