package fieldbook.demo

import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers

/**
 * Where the view models run the library's blocking calls. Every `Fieldbook` call but
 * `sync` does disk I/O, so none may run on the UI thread; tests pass a test dispatcher
 * (virtual time for debounce) or keep real IO.
 */
class DemoDispatchers(val io: CoroutineDispatcher = Dispatchers.IO)
