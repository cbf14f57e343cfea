package fieldbook.demo.android.ui

import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import fieldbook.demo.MessageKind
import fieldbook.demo.UiMessage

/** A message for the rep; a network problem is information (edits are safe), not an alarm. */
@Composable
fun MessageLine(message: UiMessage, onDismiss: () -> Unit) {
    val colors = MaterialTheme.colorScheme
    val (background, foreground) = when (message.kind) {
        MessageKind.NETWORK, MessageKind.CANCELLED -> colors.secondaryContainer to colors.onSecondaryContainer
        else -> colors.errorContainer to colors.onErrorContainer
    }
    Surface(color = background, contentColor = foreground, modifier = Modifier.fillMaxWidth().padding(vertical = 4.dp)) {
        Row(Modifier.padding(horizontal = 12.dp, vertical = 4.dp), verticalAlignment = Alignment.CenterVertically) {
            Text(message.text, modifier = Modifier.weight(1f), style = MaterialTheme.typography.bodyMedium)
            TextButton(onClick = onDismiss) { Text("知道了") }
        }
    }
}
