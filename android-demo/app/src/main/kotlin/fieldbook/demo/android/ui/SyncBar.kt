package fieldbook.demo.android.ui

import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.Spacer
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.width
import androidx.compose.material3.Button
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import fieldbook.demo.SyncViewModel
import kotlinx.coroutines.launch

/**
 * The sync button with its progress bar and the last-sync line. The bar is
 * indeterminate: a sync does not know in advance how many requests it will take, only
 * what each one moved (shown below it).
 */
@Composable
fun SyncBar(sync: SyncViewModel, modifier: Modifier = Modifier) {
    val state by sync.state.collectAsStateWithLifecycle()
    val scope = rememberCoroutineScope()
    Column(modifier.fillMaxWidth().padding(horizontal = 16.dp, vertical = 8.dp)) {
        Row(verticalAlignment = Alignment.CenterVertically) {
            Column(Modifier.weight(1f)) {
                Text("上次同步：${state.lastSync.shown()}", style = MaterialTheme.typography.bodyMedium)
                val pending = if (state.pendingCards > 0u) "待上传 ${state.pendingCards} 张卡片" else "全部已上传"
                Text(pending, style = MaterialTheme.typography.bodySmall)
            }
            if (state.running) {
                TextButton(onClick = sync::cancel) { Text("取消") }
            }
            Spacer(Modifier.width(8.dp))
            Button(onClick = { scope.launch { sync.sync() } }, enabled = !state.running && state.enrolled) {
                Text(if (state.running) "同步中…" else "同步")
            }
        }
        if (state.running) {
            LinearProgressIndicator(Modifier.fillMaxWidth().padding(top = 8.dp))
        }
        (if (state.running) state.progressText else state.summaryText)?.let {
            Text(it, style = MaterialTheme.typography.bodySmall, modifier = Modifier.padding(top = 4.dp))
        }
        state.message?.let { MessageLine(it, onDismiss = sync::dismissMessage) }
    }
}
