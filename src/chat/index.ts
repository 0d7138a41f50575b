// Chat: conversations rendered with the model's Jinja chat template (or ChatML) and streamed replies.
export { chat, chatPrompt, type ChatOptions, type ChatGeneration, type ChatPrompt } from "./chat.js";
export { planTools, parseReply, type ChatResult, type ToolChoice, type ToolPlan } from "./tools.js";
export { detectToolFormat, streamableContent, type ToolFormatName } from "./tool-formats.js";
export { parseToolCalls, type ParsedReply, type ParsedToolCall } from "./tool-parse.js";
export { toolCallGrammar, type ToolGrammar } from "./tool-grammar.js";
export {
  ChatError,
  ChatTemplate,
  CHATML_TEMPLATE,
  CHAT_TEMPLATE_KEY,
  checkMessages,
  checkTools,
  type ChatContent,
  type ChatErrorKind,
  type ChatMessage,
  type ChatRole,
  type ChatTemplateKind,
  type ChatTool,
  type ChatToolCall,
  type RenderOptions,
} from "./template.js";
